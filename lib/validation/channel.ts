// Alert channels: the per-type config (as an admin types it: secrets in clear, or masked to keep the stored ones), the
// create and patch bodies, and the channel as the API answers it. The store's shape: lib/store/contract/channels.ts.
import { z } from 'zod';
import { CHANNEL_TYPES } from '../domain';
import { literalUrlProblem } from '../net/allow';
import { MASK } from '../secrets/fields';
import { DateTimeJsonSchema } from './date';
import { JobNameSchema } from './job';
import { isSingleLineText } from './text';

/** http(s), parsed by WHATWG URL; obvious internal targets refused when saved (names are checked again, after DNS, at send). */
function httpUrlProblem(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'url must be an http:// or https:// URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'url must be an http:// or https:// URL';
  return literalUrlProblem(value);
}

/** A target URL, secret: the whole of it for Slack, its query string and user info for webhooks (lib/secrets/channels.ts). */
function targetUrl(description: string) {
  return z
    .string({ error: 'url is required' })
    .min(1, 'url is required')
    .max(2048, 'url is at most 2048 characters')
    .superRefine((value, ctx) => {
      // A masked value ("••••…" or a webhook URL with "••••" for its secret parts) is checked against the stored one by
      // the service (lib/services/channels.ts): it keeps it, or it is refused.
      if (value.includes(MASK)) return;
      const problem = httpUrlProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .meta({ pattern: `^(?:https?://|${MASK})\\S*$`, 'x-secret': true })
    .describe(description);
}

export const WebhookConfigSchema = z.strictObject({
  url: targetUrl(
    'Where alerts are POSTed (http or https; private and loopback addresses are refused unless HTTP_JOB_ALLOW lists them). Its query string and user info are secrets: encrypted, and shown as "••••"; send the shown URL back unchanged to keep them',
  ),
});

export const SlackConfigSchema = z.strictObject({
  url: targetUrl(
    'The Slack (or Mattermost) incoming webhook URL. The whole URL is a secret: encrypted, and shown as "••••" plus its last 4 characters; send that back unchanged to keep it',
  ),
});

export const SMTP_SECURITY = ['tls', 'starttls', 'opportunistic'] as const;
export type SmtpSecurity = (typeof SMTP_SECURITY)[number];

const HOST_PATTERN = '^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\\[[0-9A-Fa-f:.]+\\]$';
const EMAIL_MAX = 254;
const email = (what: string) => z.email(`${what} must be an e-mail address (name@example.com)`).max(EMAIL_MAX);

/** Text sent to the SMTP server as is: one line, no control characters. */
const credential = (what: string, max: number, meta: Record<string, unknown> = {}) =>
  z
    .string()
    .min(1, `${what} must not be empty (leave it out instead)`)
    .max(max, `${what} is at most ${max} characters`)
    .refine(isSingleLineText, `${what} must not contain control characters or invalid Unicode`)
    .meta({ pattern: '^[^\\p{Cc}]+$', ...meta });

export const EmailConfigSchema = z.strictObject({
  host: z
    .string()
    .regex(new RegExp(HOST_PATTERN), 'host must be a host name or an IP address')
    .max(255)
    .optional()
    .describe(
      'SMTP server. Left out: the server of the SMTP_URL environment variable (with its port, TLS mode and login, unless given here)',
    ),
  port: z.number().int().min(1).max(65_535).optional().describe("Default: 465 for tls, else 587 (or SMTP_URL's port)"),
  security: z
    .enum(SMTP_SECURITY)
    .optional()
    .describe(
      'tls: TLS from the first byte (port 465). starttls (the default with a host): STARTTLS required, the mail is not sent without it. opportunistic: STARTTLS when the server offers it, else plain',
    ),
  username: credential('username', 256).optional().describe("SMTP login (AUTH PLAIN/LOGIN); left out: no login (or SMTP_URL's)"),
  password: credential('password', 1024, { 'x-secret': true })
    .optional()
    .describe('Encrypted; shown as "••••" (plus its last 4 characters when long); send that back unchanged to keep it'),
  from: email('from').describe('The sender address'),
  to: z.array(email('each recipient')).min(1, 'at least one recipient').max(50, 'at most 50 recipients').describe('Recipients'),
});

export type WebhookConfig = z.output<typeof WebhookConfigSchema>;
export type SlackConfig = z.output<typeof SlackConfigSchema>;
export type EmailConfig = z.output<typeof EmailConfigSchema>;

export const CHANNEL_CONFIG_SCHEMAS = {
  webhook: WebhookConfigSchema,
  slack: SlackConfigSchema,
  email: EmailConfigSchema,
} as const;

export const ChannelNameSchema = JobNameSchema;

export const DailyCapSchema = z
  .number({ error: 'dailyCap must be a number or null' })
  .int('dailyCap must be a whole number')
  .min(1, 'dailyCap is at least 1 (null: no cap)')
  .max(1_000_000, 'dailyCap is at most 1000000')
  .nullable()
  .describe('Most alerts sent through this channel per UTC day; null = no cap');

const common = { name: ChannelNameSchema, dailyCap: DailyCapSchema.default(null) };

/** Body of POST /api/channels and of the new-channel form: the type decides the config. */
export const ChannelCreateSchema = z.discriminatedUnion('type', [
  z.strictObject({ ...common, type: z.literal('webhook'), config: WebhookConfigSchema }),
  z.strictObject({ ...common, type: z.literal('slack'), config: SlackConfigSchema }),
  z.strictObject({ ...common, type: z.literal('email'), config: EmailConfigSchema }),
]);

/**
 * Body of PATCH /api/channels/{id}: the fields to change (the type cannot change). config is replaced whole and checked
 * against the channel's type (the service: lib/services/channels.ts), so here it is any object.
 */
export const ChannelPatchSchema = z.strictObject({
  name: ChannelNameSchema.optional(),
  config: z
    .record(z.string(), z.unknown())
    .optional()
    .describe(
      "The whole config, as for the channel's type (webhook, slack or email: see ChannelCreate); masked secrets keep the stored ones",
    ),
  dailyCap: DailyCapSchema.optional(),
});

export type ChannelCreateInput = z.input<typeof ChannelCreateSchema>;
export type ChannelSpec = z.output<typeof ChannelCreateSchema>;
export type ChannelPatchInput = z.output<typeof ChannelPatchSchema>;

export const ChannelTypeSchema = z.enum(CHANNEL_TYPES);

/** What every signed-in role may see of a channel: enough to pick one for a rule. */
export const ChannelSummaryJsonSchema = z.object({ id: z.string(), name: z.string(), type: ChannelTypeSchema });

/** A channel as admins see it: secrets masked, never the signing secret (reveal it: POST …/signing-secret/reveal). */
export const ChannelJsonSchema = ChannelSummaryJsonSchema.extend({
  config: z.record(z.string(), z.unknown()).describe('Per type (see ChannelCreate), secrets masked'),
  dailyCap: z.number().int().nullable(),
  createdAt: DateTimeJsonSchema,
  updatedAt: DateTimeJsonSchema,
});

export const ChannelCreatedJsonSchema = ChannelJsonSchema.extend({
  signingSecret: z
    .string()
    .optional()
    .describe('Webhook channels only: the Standard Webhooks secret (`whsec_…`) alerts are signed with, shown this once'),
});

export type ChannelSummaryJson = z.input<typeof ChannelSummaryJsonSchema>;
export type ChannelJson = z.input<typeof ChannelJsonSchema>;
