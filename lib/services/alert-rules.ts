import 'server-only';
import { requireRole, type Actor } from '../auth/principal';
import { ValidationError, toFieldIssues, type FieldIssue } from '../errors';
import { getStore } from '../store';
import type { AlertDefaultRule } from '../store/types';
import { AlertDefaultsSchema } from '../validation/alert';
import { diffFields, recordAudit } from './audit';

// Alert rules beyond their shape (lib/validation/alert.ts): each names an existing channel, and the defaults
// (Settings -> Alerts, GET/PUT /api/alerts/defaults) are read by anyone who can see jobs and replaced by admins.

/** A 400 at `<prefix>.<i>.channelId` for each rule whose channel does not exist; nothing is written before this passes. */
export async function checkAlertChannels(rules: ReadonlyArray<{ channelId: string }>, prefix: string): Promise<void> {
  if (rules.length === 0) return;
  const store = await getStore();
  const known = new Set((await store.listChannels()).map((c) => c.id));
  const issues: FieldIssue[] = [];
  rules.forEach((rule, i) => {
    if (!known.has(rule.channelId)) issues.push({ path: `${prefix}.${i}.channelId`, message: 'channelId names no channel' });
  });
  if (issues.length > 0) throw new ValidationError(issues);
}

/** The channels a rule may name, for pickers: id, name and type only (no config, no secrets). Operators and up. */
export async function listChannelChoices(actor: Actor): Promise<Array<{ id: string; name: string; type: string }>> {
  requireRole(actor.principal, 'operator');
  const store = await getStore();
  return (await store.listChannels()).map((c) => ({ id: c.id, name: c.name, type: c.type }));
}

/** Channel names by id, for lists of alerts (names only: any role may see where alerts went). */
export async function listAlertChannelNames(): Promise<Record<string, string>> {
  const store = await getStore();
  return Object.fromEntries((await store.listChannels()).map((c) => [c.id, c.name]));
}

export async function getAlertDefaults(actor: Actor): Promise<AlertDefaultRule[]> {
  requireRole(actor.principal, 'viewer');
  const store = await getStore();
  return store.getAlertDefaults();
}

/** Replaces the default rules (admin); audited as one change of `rules`. */
export async function setAlertDefaults(input: unknown, actor: Actor): Promise<AlertDefaultRule[]> {
  requireRole(actor.principal, 'admin');
  const parsed = AlertDefaultsSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(toFieldIssues(parsed.error.issues));
  const { rules } = parsed.data;
  await checkAlertChannels(rules, 'rules');
  const store = await getStore();
  const before = await store.getAlertDefaults();
  const after = await store.setAlertDefaults(rules);
  const changes = diffFields({ rules: before }, { rules: after }, ['rules']);
  if (changes) await recordAudit(actor, 'alerts.defaults.update', { type: 'alert-defaults', id: null, name: 'alert defaults' }, changes);
  return after;
}
