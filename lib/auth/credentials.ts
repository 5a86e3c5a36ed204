import 'server-only';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { logger } from '../log';

/** The secrets the app authenticates with. Env vars win; anything unset comes from .data/credentials.json. */
export interface Credentials {
  /** Dashboard password for the user "admin". */
  adminPassword: string;
  /** Bearer token for /api/**. */
  apiToken: string;
  /** Signs session cookies. */
  sessionSecret: string;
}

export const ADMIN_USERNAME = 'admin';

const StoredCredentialsSchema = z.object({
  adminPassword: z.string().min(1),
  apiToken: z.string().min(1),
  sessionSecret: z.string().min(16),
});

type Env = Record<string, string | undefined>;

export interface EnsureCredentialsOptions {
  env?: Env;
  /** Where credentials.json lives; default env CRONPLANE_DATA_DIR or ./.data */
  dataDir?: string;
  log?: (message: string) => void;
}

export function credentialsFile(env: Env = process.env, dataDir?: string): string {
  const dir = dataDir ?? (env.CRONPLANE_DATA_DIR?.trim() || path.join(process.cwd(), '.data'));
  return path.join(dir, 'credentials.json');
}

function fromEnv(env: Env): Partial<Credentials> {
  // An empty variable counts as unset, so `ADMIN_PASSWORD=` cannot mean "no password".
  const pick = (name: string): string | undefined => env[name]?.trim() || undefined;
  return { adminPassword: pick('ADMIN_PASSWORD'), apiToken: pick('API_TOKEN'), sessionSecret: pick('SESSION_SECRET') };
}

function generate(): Credentials {
  return {
    adminPassword: randomBytes(18).toString('base64url'),
    apiToken: `cp_${randomBytes(32).toString('base64url')}`,
    sessionSecret: randomBytes(32).toString('base64url'),
  };
}

function readStored(file: string): Credentials {
  const text = fs.readFileSync(file, 'utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not valid JSON: fix or delete it (new credentials are then generated)`);
  }
  const parsed = StoredCredentialsSchema.safeParse(data);
  if (!parsed.success) throw new Error(`${file} lacks adminPassword/apiToken/sessionSecret: fix or delete it`);
  return parsed.data;
}

/**
 * Creates the file atomically: the full content goes to a private temp file first, then link()
 * publishes it under the final name, which fails with EEXIST when another process won the race.
 * The loser reads the winner's file, so two instances starting together agree on one set.
 */
function readOrCreate(file: string): { stored: Credentials; created: boolean } {
  try {
    return { stored: readStored(file), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const fresh = generate();
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeSync(fd, `${JSON.stringify(fresh, null, 2)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, file);
    return { stored: fresh, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { stored: readStored(file), created: false };
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

const CACHE_KEY = Symbol.for('cronplane.credentials');
type CredentialsGlobal = typeof globalThis & { [CACHE_KEY]?: Credentials };

/**
 * Resolves the credentials once per process (call at start-up). Missing env values are taken from
 * .data/credentials.json, which is generated (mode 600) on first use; the generated values in use
 * are printed only by the process that created the file.
 */
export function ensureCredentials(options: EnsureCredentialsOptions = {}): Credentials {
  const env = options.env ?? process.env;
  const g = globalThis as CredentialsGlobal;
  // Only the default (process env) result is cached: tests pass their own env and data dir.
  if (!options.env && !options.dataDir && g[CACHE_KEY]) return g[CACHE_KEY];
  const given = fromEnv(env);
  let result: Credentials;
  if (given.adminPassword && given.apiToken && given.sessionSecret) {
    result = { adminPassword: given.adminPassword, apiToken: given.apiToken, sessionSecret: given.sessionSecret };
  } else {
    const file = credentialsFile(env, options.dataDir);
    const { stored, created } = readOrCreate(file);
    result = {
      adminPassword: given.adminPassword ?? stored.adminPassword,
      apiToken: given.apiToken ?? stored.apiToken,
      sessionSecret: given.sessionSecret ?? stored.sessionSecret,
    };
    if (created) {
      const log = options.log ?? ((message: string) => logger('auth').info(message));
      const lines = [`Cronplane generated credentials (stored in ${file}, mode 600):`];
      if (!given.adminPassword) lines.push(`  dashboard login: user "${ADMIN_USERNAME}", password ${stored.adminPassword}`);
      if (!given.apiToken) lines.push(`  API token:       Authorization: Bearer ${stored.apiToken}`);
      lines.push('  Set ADMIN_PASSWORD / API_TOKEN / SESSION_SECRET to use your own.');
      log(lines.join('\n'));
    }
  }
  if (!options.env && !options.dataDir) g[CACHE_KEY] = result;
  return result;
}

/** The process's credentials; resolves them on first use if start-up did not. */
export function getCredentials(): Credentials {
  return ensureCredentials();
}

/** Constant-time string comparison: hashing first makes the lengths equal, so length leaks nothing either. */
export function secretEquals(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
