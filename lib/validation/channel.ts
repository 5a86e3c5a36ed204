// Alert channels: the per-type config (as an admin types it: secrets in clear, or masked to keep the stored ones), the
// create and patch bodies, and the channel as the API answers it. The store's shape: lib/store/contract/channels.ts.
import { z } from 'zod';
import { CHANNEL_TYPES, type ChannelType } from '../domain';
import { literalUrlProblem } from '../net/allow';
import { MASK } from '../secrets/fields';
import { DateTimeJsonSchema } from './date';
import { JobNameSchema } from './job';
import { charLength, isSingleLineText } from './text';

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
  return charLength(z.string({ error: 'url is required' }), {
    min: 1,
    max: 2048,
    minMessage: 'url is required',
    maxMessage: 'url is at most 2048 characters',
  })
    .superRefine((value, ctx) => {
      // A masked value ("••••…", or a webhook URL with "••••" for its secret parts) is checked against the stored one by
      // the service (lib/services/channels.ts): it keeps it, or it is refused.
      if (value.includes(MASK)) return;
      const problem = httpUrlProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .meta({ format: 'uri', 'x-secret': true })
    .describe(description);
}

export const WebhookConfigSchema = z.strictObject({
  url: targetUrl(
    'Where alerts are POSTed: an http or https URL (private, loopback and link-local addresses are refused when saved and, after DNS, when sent, unless HTTP_JOB_ALLOW lists them). Its query string and user info are secrets: encrypted, and shown as "••••"; the URL as shown (with "••••") is also accepted, and keeps them',
  ),
});

export const SlackConfigSchema = z.strictObject({
  url: targetUrl(
    'The Slack (or Mattermost) incoming webhook URL (http or https; the same address checks as for a webhook). The whole URL is a secret: encrypted, and shown as "••••" plus its last 4 characters; that value is also accepted, and keeps it',
  ),
});

export const SMTP_SECURITY = ['tls', 'starttls', 'opportunistic'] as const;
export type SmtpSecurity = (typeof SMTP_SECURITY)[number];

const HOST_PATTERN = '^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\\[[0-9A-Fa-f:.]+\\]$';
const EMAIL_MAX = 254;
/** A plain address (no display name): ASCII, as SMTP's MAIL FROM and RCPT TO take it without SMTPUTF8. */
const EMAIL_PATTERN = "^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$";
const email = (what: string) =>
  z
    .string({ error: `${what} must be an e-mail address (name@example.com)` })
    .max(EMAIL_MAX, `${what} is at most ${EMAIL_MAX} characters`)
    .regex(new RegExp(EMAIL_PATTERN), `${what} must be an e-mail address (name@example.com)`);

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

export const ChannelTypeSchema = z.enum(CHANNEL_TYPES, { error: `type must be one of ${CHANNEL_TYPES.join(', ')}` });

/** The config checked against its type's schema; its issues are reported under `config.`. */
function checkConfig(type: ChannelType | undefined, config: Record<string, unknown> | undefined, ctx: z.RefinementCtx): unknown {
  if (type === undefined || config === undefined) return config;
  const parsed = CHANNEL_CONFIG_SCHEMAS[type].safeParse(config);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues)
    ctx.addIssue({ ...issue, code: 'custom', path: ['config', ...issue.path], message: issue.message });
  return z.NEVER;
}

const ConfigObjectSchema = z.record(z.string(), z.unknown(), { error: 'config must be an object' });

/**
 * Body of POST /api/channels and of the new-channel form: the type decides the config (checked against the type's
 * schema, its issues under config.*). The document spells the variants out (lib/api/openapi/channels.ts).
 */
export const ChannelCreateSchema = z
  .strictObject({
    name: ChannelNameSchema,
    type: ChannelTypeSchema,
    config: ConfigObjectSchema,
    dailyCap: DailyCapSchema.default(null),
  })
  .transform((body, ctx) => ({ ...body, config: checkConfig(body.type, body.config, ctx) as Record<string, unknown> }));

/**
 * Body of PATCH /api/channels/{id}: the fields to change. config is replaced whole, and comes with the channel's type
 * (which cannot change: another type is a 409), so that it is checked against that type's schema.
 */
export const ChannelPatchSchema = z
  .strictObject({
    name: ChannelNameSchema.optional(),
    type: ChannelTypeSchema.optional(),
    config: ConfigObjectSchema.optional(),
    dailyCap: DailyCapSchema.optional(),
  })
  .transform((body, ctx) => {
    if ((body.type === undefined) !== (body.config === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [body.type === undefined ? 'type' : 'config'],
        message: "type and config go together: send the channel's type with its whole config",
      });
      return z.NEVER;
    }
    return { ...body, config: checkConfig(body.type, body.config, ctx) as Record<string, unknown> | undefined };
  });

export type ChannelCreateInput = z.input<typeof ChannelCreateSchema>;
export type ChannelSpec = z.output<typeof ChannelCreateSchema>;
export type ChannelPatchInput = z.output<typeof ChannelPatchSchema>;

/** What every signed-in role may see of a channel: enough to pick one for a rule. */
export const ChannelSummaryJsonSchema = z.object({ id: z.string(), name: z.string(), type: ChannelTypeSchema });

/** A channel as the API answers it: admins see all of it (secrets masked, never the signing secret), other roles id, name and type. */
export const ChannelJsonSchema = ChannelSummaryJsonSchema.extend({
  config: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('Admins only. Per type (see ChannelCreate_webhook, _slack, _email), secrets masked'),
  dailyCap: z.number().int().nullable().optional().describe('Admins only. Most alerts per UTC day; null = no cap'),
  createdAt: DateTimeJsonSchema.optional().describe('Admins only'),
  updatedAt: DateTimeJsonSchema.optional().describe('Admins only'),
});

export const ChannelListJsonSchema = z.object({ channels: z.array(ChannelJsonSchema) });

export const ChannelCreatedJsonSchema = ChannelJsonSchema.extend({
  signingSecret: z
    .string()
    .optional()
    .describe(
      'Webhook channels only: the Standard Webhooks secret (`whsec_…`) alerts are signed with, shown this once (POST /api/channels/{id}/signing-secret/reveal shows it again)',
    ),
});

export const ChannelSigningSecretJsonSchema = z.object({
  signingSecret: z.string().describe('`whsec_` + base64 of 32 random bytes (Standard Webhooks): verify alerts with it'),
});

export const ChannelTestJsonSchema = z.object({ ok: z.literal(true) });
export const ChannelTestFailedJsonSchema = z.object({
  ok: z.literal(false),
  error: z.string().describe('Why the channel did not accept the alert: a status, the SMTP response, a timeout, a refused address'),
});

export type ChannelSummaryJson = z.input<typeof ChannelSummaryJsonSchema>;
export type ChannelJson = z.input<typeof ChannelJsonSchema>;
