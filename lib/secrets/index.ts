import 'server-only';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ValidationError } from '../errors';
import { getJobType } from '../jobs/registry';
import { ENCRYPTED_PREFIX, MASK, getAt, isEncrypted, isMasked, mapSecrets, maskValue } from './fields';

export { isEncrypted, isMasked, maskValue, MASK } from './fields';

type Env = Record<string, string | undefined>;

const KEY_CACHE = Symbol.for('cronplane.secretsKey');
type KeyGlobal = typeof globalThis & { [KEY_CACHE]?: Buffer };

function keyFile(env: Env): string {
  const dir = env.CRONPLANE_DATA_DIR?.trim() || path.join(process.cwd(), '.data');
  return path.join(dir, 'secrets.key');
}

function decodeKey(text: string, where: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32)
    throw new Error(`${where} must be 32 bytes, base64-encoded (got ${key.length} bytes): e.g. \`openssl rand -base64 32\``);
  return key;
}

/** Same race-free create as the credentials file: write a temp file, link() it into place, loser reads the winner's. */
function readOrCreateKey(file: string): Buffer {
  try {
    return decodeKey(fs.readFileSync(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(tmp, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return decodeKey(fs.readFileSync(file, 'utf8'), file);
}

/** The AES-256 key: env SECRETS_KEY (base64, 32 bytes), else .data/secrets.key, generated on first use (mode 600). */
export function secretsKey(env: Env = process.env): Buffer {
  const g = globalThis as KeyGlobal;
  if (env === process.env && g[KEY_CACHE]) return g[KEY_CACHE];
  const given = env.SECRETS_KEY?.trim();
  const key = given ? decodeKey(given, 'SECRETS_KEY') : readOrCreateKey(keyFile(env));
  if (env === process.env) g[KEY_CACHE] = key;
  return key;
}

/** `enc:v1:` + base64url(iv[12] | tag[16] | AES-256-GCM ciphertext). The version names the format and algorithm. */
export function encryptSecret(plain: string, key: Buffer = secretsKey()): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return `${ENCRYPTED_PREFIX}${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
}

export function decryptSecret(value: string, key: Buffer = secretsKey()): string {
  if (!isEncrypted(value)) return value;
  const raw = Buffer.from(value.slice(ENCRYPTED_PREFIX.length), 'base64url');
  if (raw.length < 28) throw new Error('stored secret is damaged');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  try {
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('cannot decrypt a stored secret: SECRETS_KEY (or .data/secrets.key) differs from the key it was saved with');
  }
}

function schemaOf(type: string) {
  return getJobType(type)?.payloadSchema;
}

/** Before the store: every secret value encrypted (values already encrypted stay as they are). */
export function sealPayload(type: string, payload: Record<string, unknown>): Record<string, unknown> {
  return mapSecrets(schemaOf(type), payload, (value) => (isEncrypted(value) ? value : encryptSecret(value)));
}

/** For the handler only: every encrypted value decrypted. Throws when the key does not fit (the run fails). */
export function revealPayload<T>(type: string, payload: T): T {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return payload;
  return mapSecrets(schemaOf(type), payload as Record<string, unknown>, (value) => decryptSecret(value)) as T;
}

/** For answers, pages and logs: secret values replaced by "••••" (+ last 4 characters of long ones). */
export function maskPayload(type: string, payload: Record<string, unknown>): Record<string, unknown> {
  return mapSecrets(schemaOf(type), payload, (value) => {
    if (isMasked(value)) return value;
    try {
      return maskValue(decryptSecret(value));
    } catch {
      return MASK;
    }
  });
}

/** The origin (scheme, host, port) a payload sends to, for types with a `url`; null when it has none or it does not parse. */
function targetOrigin(payload: Record<string, unknown> | null): string | null {
  if (!payload || typeof payload.url !== 'string') return null;
  try {
    return new URL(payload.url).origin;
  } catch {
    return null;
  }
}

/**
 * An edit sends back what it was shown: a masked value means "keep the stored secret". `incoming` is the
 * new payload, `current` the stored one revealed (null when the type changes). A masked value with no
 * stored secret behind it is refused rather than saved as the literal "••••". So is one whose job now sends
 * to another origin: an operator could otherwise point the job at an address of their own and receive the
 * secret in clear (the rule the redirect handling applies too). Every such field is named.
 */
export function keepMaskedSecrets(
  type: string,
  incoming: Record<string, unknown>,
  current: Record<string, unknown> | null,
): Record<string, unknown> {
  const schema = schemaOf(type);
  if (!schema) return incoming;
  const from = targetOrigin(current);
  const to = targetOrigin(incoming);
  const moved = from !== null && to !== null && from !== to;
  const issues: Array<{ path: string; message: string }> = [];
  const kept = mapSecrets(schema, incoming, (value, at) => {
    if (!isMasked(value)) return value;
    const path = ['payload', ...at].join('.');
    const old = current ? getAt(current, at) : undefined;
    if (typeof old !== 'string' || (value !== MASK && value !== maskValue(old))) {
      issues.push({ path, message: 'this is the masked display of a secret: type the secret itself to change it' });
    } else if (moved) {
      issues.push({
        path,
        message: `the URL now points to ${to} instead of ${from}: a stored secret is only sent to the origin it was saved for; type it again to send it there`,
      });
    }
    return typeof old === 'string' ? old : value;
  });
  // A masked header value left where no secret is (a header no longer marked secret, or renamed): it would be saved as
  // the literal mask.
  for (const [field, value] of Object.entries(kept)) {
    if (!value || typeof value !== 'object' || Array.isArray(value)) continue;
    for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
      const path = ['payload', field, key].join('.');
      if (isMasked(inner) && !issues.some((i) => i.path === path))
        issues.push({ path, message: 'this is the masked display of a secret: type the value itself (the header is not a secret now)' });
    }
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return kept;
}
