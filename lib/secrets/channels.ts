import 'server-only';
import type { ChannelType } from '../domain';
import type { JsonObject } from '../store/types';
import { MASK, isEncrypted, maskValue } from './fields';
import { decryptSecret, encryptSecret } from './index';

// Secrets of alert channels (lib/store/contract/channels.ts): which config fields are secrets, sealed (encrypted with
// SECRETS_KEY) before the store, revealed for the sender only, masked in every answer, page, log and audit entry.
// A masked value sent back keeps the stored secret, unless the channel now sends somewhere else (as job secrets,
// lib/secrets/index.ts keepMaskedSecrets).

/** The secret config fields per type: a webhook's URL (its query string and user info), a Slack URL (whole), an SMTP password. */
export const CHANNEL_SECRET_FIELDS: Record<ChannelType, readonly string[]> = {
  webhook: ['url'],
  slack: ['url'],
  email: ['password'],
};

/** A webhook URL as shown: scheme, host, port and path in clear; user info and query string as "••••"; no fragment. */
export function maskWebhookUrl(plain: string): string {
  let url: URL;
  try {
    url = new URL(plain);
  } catch {
    return MASK;
  }
  const userinfo = url.username !== '' || url.password !== '' ? `${MASK}@` : '';
  const query = url.search !== '' ? `?${MASK}` : '';
  return `${url.protocol}//${userinfo}${url.host}${url.pathname}${query}`;
}

function maskField(type: ChannelType, field: string, plain: string): string {
  if (type === 'webhook' && field === 'url') return maskWebhookUrl(plain);
  return maskValue(plain);
}

function mapSecretFields(type: ChannelType, config: JsonObject, fn: (value: string, field: string) => string): JsonObject {
  const out: JsonObject = { ...config };
  for (const field of CHANNEL_SECRET_FIELDS[type] ?? []) {
    const value = out[field];
    if (typeof value === 'string' && value !== '') out[field] = fn(value, field);
  }
  return out;
}

/** Before the store: every secret field encrypted (values already encrypted stay). */
export function sealChannelConfig(type: ChannelType, config: JsonObject): JsonObject {
  return mapSecretFields(type, config, (value) => (isEncrypted(value) ? value : encryptSecret(value)));
}

/** For the sender only: every secret field decrypted. Throws when SECRETS_KEY does not fit. */
export function revealChannelConfig(type: ChannelType, config: JsonObject): JsonObject {
  return mapSecretFields(type, config, (value) => decryptSecret(value));
}

/** For answers, pages, logs and audit entries: every secret field masked. */
export function maskChannelConfig(type: ChannelType, config: JsonObject): JsonObject {
  return mapSecretFields(type, config, (value, field) => {
    try {
      return maskField(type, field, decryptSecret(value));
    } catch {
      return MASK;
    }
  });
}

/** Where a channel's secrets go: a URL's origin, an SMTP server (host and port; empty = SMTP_URL's). */
function destination(type: ChannelType, config: JsonObject): string | null {
  if (type === 'email')
    return `${typeof config.host === 'string' ? config.host : ''}:${typeof config.port === 'number' ? config.port : ''}`;
  return null;
}

/**
 * An edit sends back what it was shown: a secret field holding exactly the masked display of the stored value keeps
 * the stored (encrypted) value. Anything else with "••••" in it is refused, and so is a masked SMTP password when the
 * channel now names another server (an admin would otherwise receive the password at a server of their own). For
 * webhooks the masked URL shows the origin, so a masked URL pointing elsewhere is no longer the masked display.
 * `stored` is the channel's config as stored (encrypted). Returns the config to store and the field issues.
 */
export function keepMaskedChannelSecrets(
  type: ChannelType,
  incoming: JsonObject,
  stored: JsonObject,
): { config: JsonObject; issues: Array<{ path: string; message: string }> } {
  const issues: Array<{ path: string; message: string }> = [];
  const moved = destination(type, incoming) !== destination(type, stored);
  const config: JsonObject = { ...incoming };
  for (const field of CHANNEL_SECRET_FIELDS[type] ?? []) {
    const value = incoming[field];
    if (typeof value !== 'string' || !value.includes(MASK)) continue;
    const path = `config.${field}`;
    const old = stored[field];
    let shown: string | null = null;
    if (typeof old === 'string') {
      try {
        shown = maskField(type, field, decryptSecret(old));
      } catch {
        shown = null;
      }
    }
    if (shown === null || (value !== shown && !(value === MASK && type !== 'webhook'))) {
      issues.push({ path, message: 'this is the masked display of a secret: type the secret itself to change it' });
    } else if (moved) {
      issues.push({
        path,
        message: 'the channel now sends to another server: a stored secret is only sent where it was saved for; type it again',
      });
    } else {
      config[field] = old;
    }
  }
  return { config, issues };
}
