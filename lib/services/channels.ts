import 'server-only';
import { randomUUID } from 'node:crypto';
import { sendToChannel } from '../alerts/send';
import { hasRole, requireRole, type Actor } from '../auth/principal';
import type { AlertMessage, ChannelType } from '../domain';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../errors';
import { errorMessage, logger } from '../log';
import { decryptSecret, encryptSecret } from '../secrets';
import { keepMaskedChannelSecrets, maskChannelConfig, sealChannelConfig } from '../secrets/channels';
import { newSigningSecret } from '../secrets/signing';
import { getStore } from '../store';
import { NameTakenError, type Channel, type ChannelPatch, type JsonObject } from '../store/types';
import { ChannelCreateSchema, ChannelPatchSchema } from '../validation/channel';
import { IdSchema } from '../validation/id';
import { diffFields, MASKED, recordAudit, type Changes } from './audit';
import { parseInput } from './jobs';

// Alert channels (issue #14): admins create, change, delete and test them; every signed-in role can list their names
// and types (to pick one for an alert rule). Secrets (webhook/Slack URLs, SMTP passwords, a webhook's signing secret)
// are encrypted before the store and masked in every answer, page, log and audit entry (lib/secrets/channels.ts).

const log = logger('channels');

/** A channel as admins see it: its config with secrets masked; never the signing secret. */
export interface ChannelView {
  id: string;
  name: string;
  type: ChannelType;
  config: JsonObject;
  dailyCap: number | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What every role sees: enough to pick a channel for a rule. */
export interface ChannelSummary {
  id: string;
  name: string;
  type: ChannelType;
}

export function channelView(channel: Channel): ChannelView {
  return {
    id: channel.id,
    name: channel.name,
    type: channel.type,
    config: maskChannelConfig(channel.type, channel.config),
    dailyCap: channel.dailyCap,
    createdAt: channel.createdAt,
    updatedAt: channel.updatedAt,
  };
}

export function channelSummary(channel: Pick<Channel, 'id' | 'name' | 'type'>): ChannelSummary {
  return { id: channel.id, name: channel.name, type: channel.type };
}

const target = (channel: Pick<Channel, 'id' | 'name'>) => ({ type: 'channel', id: channel.id, name: channel.name });

function nameTaken(name: string): ConflictError {
  return new ConflictError(`a channel named "${name}" already exists`);
}

async function storedChannel(id: string): Promise<Channel> {
  if (!IdSchema.safeParse(id).success) throw new NotFoundError('channel');
  const channel = await (await getStore()).getChannel(id);
  if (!channel) throw new NotFoundError('channel');
  return channel;
}

/** Every channel by name: admins get them whole (secrets masked), other roles their names and types. */
export async function listChannels(actor: Actor): Promise<ChannelView[] | ChannelSummary[]> {
  const channels = await (await getStore()).listChannels();
  return hasRole(actor.principal, 'admin') ? channels.map(channelView) : channels.map(channelSummary);
}

/** Names and types of every channel, for forms that pick one (any role). */
export async function listChannelSummaries(): Promise<ChannelSummary[]> {
  return (await (await getStore()).listChannels()).map(channelSummary);
}

export async function getChannel(actor: Actor, id: string): Promise<ChannelView | ChannelSummary> {
  const channel = await storedChannel(id);
  return hasRole(actor.principal, 'admin') ? channelView(channel) : channelSummary(channel);
}

/** Creates a channel; a webhook channel gets its signing secret, returned in clear this once. */
export async function createChannel(actor: Actor, input: unknown): Promise<{ channel: ChannelView; signingSecret: string | null }> {
  requireRole(actor.principal, 'admin');
  const spec = parseInput(ChannelCreateSchema, input);
  // A masked value on a new channel has no stored secret behind it.
  const { issues } = keepMaskedChannelSecrets(spec.type, spec.config, {});
  if (issues.length > 0) throw new ValidationError(issues);
  const signingSecret = spec.type === 'webhook' ? newSigningSecret() : null;
  const store = await getStore();
  let channel: Channel;
  try {
    channel = await store.createChannel({
      name: spec.name,
      type: spec.type,
      config: sealChannelConfig(spec.type, spec.config),
      signingSecret: signingSecret === null ? null : encryptSecret(signingSecret),
      dailyCap: spec.dailyCap,
    });
  } catch (err) {
    if (err instanceof NameTakenError) throw nameTaken(spec.name);
    throw err;
  }
  const view = channelView(channel);
  await recordAudit(actor, 'channel.create', target(channel), diffFields(null, { ...view }, ['name', 'type', 'config', 'dailyCap']));
  return { channel: view, signingSecret };
}

/**
 * Changes name, config (whole, with the channel's type) and daily cap. A masked secret sent back keeps the stored one,
 * unless the channel now sends elsewhere (then it must be typed again); another type is a 409 (a type cannot change).
 */
export async function updateChannel(actor: Actor, id: string, input: unknown): Promise<ChannelView> {
  requireRole(actor.principal, 'admin');
  const before = await storedChannel(id);
  const body = parseInput(ChannelPatchSchema, input);
  if (body.type !== undefined && body.type !== before.type) {
    throw new ConflictError(`this channel is a ${before.type} channel; a channel's type cannot change (create another channel)`);
  }
  const patch: ChannelPatch = {};
  const secretChanges: Changes = {};
  if (body.name !== undefined) patch.name = body.name;
  if (body.dailyCap !== undefined) patch.dailyCap = body.dailyCap;
  if (body.config !== undefined) {
    const { config, issues } = keepMaskedChannelSecrets(before.type, body.config, before.config);
    if (issues.length > 0) throw new ValidationError(issues);
    patch.config = sealChannelConfig(before.type, config);
    // The audit entry says that a secret changed, never to what (the masked display may not show the difference).
    for (const [field, value] of Object.entries(patch.config)) {
      if (value !== before.config[field] && (field === 'url' || field === 'password'))
        secretChanges[`config.${field}`] = { before: MASKED, after: MASKED };
    }
  }
  let after: Channel | null;
  try {
    after = await (await getStore()).updateChannel(before.id, patch);
  } catch (err) {
    if (err instanceof NameTakenError) throw nameTaken(patch.name ?? '');
    throw err;
  }
  if (!after) throw new NotFoundError('channel');
  const view = channelView(after);
  const changes = { ...diffFields({ ...channelView(before) }, { ...view }, ['name', 'config', 'dailyCap']), ...secretChanges };
  if (Object.keys(changes).length > 0) await recordAudit(actor, 'channel.update', target(after), changes);
  return view;
}

/** "a", "b" and 3 more: a bounded list of names for a message. */
function nameList(names: string[], max = 10): string {
  const quoted = names.slice(0, max).map((n) => `"${n}"`);
  if (names.length > max) quoted.push(`${names.length - max} more`);
  return quoted.length <= 1 ? (quoted[0] ?? '') : `${quoted.slice(0, -1).join(', ')} and ${quoted[quoted.length - 1]}`;
}

/**
 * Deletes a channel that no alert rule names. One that a job's rules or the alert defaults use is a 409 naming them,
 * and nothing is deleted: rules are never dropped silently (README "Alert channels").
 *
 * The check and the delete are two statements, so a rule saved in between (it passed checkAlertChannels just before
 * the delete) can name a channel that is gone. That is not silent either: each event of such a rule becomes an alert
 * row that delivery records as failed, "the channel was deleted", on the Alerts page and the job's page; and the job
 * cannot be saved again until the rule names an existing channel (the rule validation refuses unknown channels).
 */
export async function deleteChannel(actor: Actor, id: string): Promise<void> {
  requireRole(actor.principal, 'admin');
  const channel = await storedChannel(id);
  const store = await getStore();
  const jobs = await store.listJobsUsingChannel(channel.id);
  const byDefaults = (await store.getAlertDefaults()).some((rule) => rule.channelId === channel.id);
  if (jobs.length > 0 || byDefaults) {
    const users = [
      ...(jobs.length > 0 ? [`the alert rules of ${jobs.length === 1 ? 'job' : 'jobs'} ${nameList(jobs.map((j) => j.name))}`] : []),
      ...(byDefaults ? ['the alert defaults'] : []),
    ];
    throw new ConflictError(`channel "${channel.name}" is used by ${users.join(' and ')}; change those rules to another channel first`);
  }
  if (!(await store.deleteChannel(channel.id))) throw new NotFoundError('channel');
  await recordAudit(actor, 'channel.delete', target(channel), diffFields({ ...channelView(channel) }, null, ['name', 'type']));
}

export type ChannelTestResult = { ok: true } | { ok: false; error: string };

/** The link in a test alert: the channels page, when the dashboard's public URL is known. */
function settingsUrl(): string | null {
  const base = process.env.CRONPLANE_URL?.trim();
  if (!base) return null;
  try {
    return new URL('/settings/channels', base).toString();
  } catch {
    return null;
  }
}

/** Sends a test alert (event 'test', a fresh id) through the channel now; audited with its outcome. */
export async function testChannel(actor: Actor, id: string): Promise<ChannelTestResult> {
  requireRole(actor.principal, 'admin');
  const channel = await storedChannel(id);
  const store = await getStore();
  const message: AlertMessage = {
    id: `test_${randomUUID()}`,
    event: 'test',
    at: await store.now(),
    title: `Test alert from Cronplane: channel ${channel.name}`,
    text: `Sent by ${actor.principal.name} with "Send test alert". If you read this, alerts reach you through this channel.`,
    job: null,
    run: null,
    instanceId: null,
    suppressedCount: 0,
    url: settingsUrl(),
  };
  let result: ChannelTestResult;
  try {
    await sendToChannel(channel, message, AbortSignal.timeout(30_000));
    result = { ok: true };
  } catch (err) {
    result = { ok: false, error: errorMessage(err) };
    log.warn({ channel: channel.name, type: channel.type, err: result.error }, 'test alert not sent');
  }
  await recordAudit(actor, 'channel.test', target(channel), {
    result: { before: null, after: result.ok ? 'sent' : `failed: ${result.error}` },
  });
  return result;
}

/** A webhook channel's signing secret in clear (admins; audited, never with the secret in the entry). */
export async function revealChannelSigningSecret(actor: Actor, id: string): Promise<string> {
  requireRole(actor.principal, 'admin');
  const channel = await storedChannel(id);
  if (channel.type !== 'webhook' || !channel.signingSecret) {
    throw new AppError(`only webhook channels have a signing secret; this is a ${channel.type} channel`, 409);
  }
  let secret: string;
  try {
    secret = decryptSecret(channel.signingSecret);
  } catch (err) {
    log.error({ channel: channel.name, err: errorMessage(err) }, 'signing secret not readable');
    throw err;
  }
  await recordAudit(actor, 'channel.signing-secret.reveal', target(channel));
  return secret;
}
