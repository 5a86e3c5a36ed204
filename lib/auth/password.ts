import 'server-only';
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * scrypt (memory-hard, in node:crypto: no native package to build offline) at OWASP's minimum for scrypt:
 * N=2^17, r=8, p=1, which takes 128 MiB per hash (~0.3-0.8 s on our machines). The parameters travel with each
 * hash: hashes made with older (lower) parameters still verify, and a successful sign-in rehashes them
 * (needsRehash, lib/services/login.ts).
 */
export const SCRYPT_N = 2 ** 17;
export const SCRYPT_R = 8;
export const SCRYPT_P = 1;
const KEY_LENGTH = 32;
/** scrypt needs 128 * N * r bytes; a stored hash asking for more than this (a tampered row) is refused, not run. */
const MAX_SCRYPT_BYTES = 256 * 1024 * 1024;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  // maxmem must exceed 128 * N * r bytes (node's default is 32 MiB), or node refuses the parameters.
  const options: ScryptOptions = { N: n, r, p, maxmem: 128 * n * r + 16 * 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

interface ParsedHash {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

/** `scrypt$N$r$p$<salt b64url>$<key b64url>`, within bounds; null for anything else. */
function parseHash(stored: string): ParsedHash | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![n, r, p].every(Number.isSafeInteger) || n < 2 || (n & (n - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return null;
  if (128 * n * r > MAX_SCRYPT_BYTES) return null;
  const key = Buffer.from(parts[5] ?? '', 'base64url');
  if (key.length !== KEY_LENGTH) return null;
  return { n, r, p, salt: Buffer.from(parts[4] ?? '', 'base64url'), key };
}

/** `scrypt$N$r$p$<salt b64url>$<key b64url>` with the current parameters. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P);
  return `scrypt$${SCRYPT_N}$${SCRYPT_R}$${SCRYPT_P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Checks a password against a stored hash, whatever (bounded) parameters it was made with. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const hash = parseHash(stored);
  if (!hash) return false;
  const key = await derive(password, hash.salt, hash.n, hash.r, hash.p);
  return timingSafeEqual(key, hash.key);
}

/** True when a (verified) hash was made with other parameters than today's: rehash it while the password is at hand. */
export function needsRehash(stored: string): boolean {
  const hash = parseHash(stored);
  return !hash || hash.n !== SCRYPT_N || hash.r !== SCRYPT_R || hash.p !== SCRYPT_P || hash.salt.length < 16;
}

let dummy: Promise<string> | null = null;
/** Spends the same time as a real check, so "no such user" and "wrong password" take equally long. */
export async function burnPasswordCheck(password: string): Promise<void> {
  dummy ??= hashPassword(randomBytes(12).toString('base64url'));
  await verifyPassword(password, await dummy);
}
