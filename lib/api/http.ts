import 'server-only';
import type { z } from 'zod';
import { AppError, ValidationError, toFieldIssues } from '../errors';
import { requireApiAuth, type ApiPrincipal } from '../auth/api';
import type { Actor } from '../auth/principal';
import { clientIp } from '../auth/rate-limit';
import { NameTakenError, UsernameTakenError } from '../store/types';
import { errorMessage, logger } from '../log';

const log = logger('api');

/** Request bodies above this are refused with 413 before they are parsed. */
export const MAX_BODY_BYTES = 1024 * 1024;

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { ...JSON_HEADERS, ...headers } });
}

export function noContent(): Response {
  return new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });
}

/** Database connection failures are an outage (503), not a bug in this app (500). */
function isDatabaseUnavailable(err: unknown): boolean {
  const codes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', '57P01', '57P03', '53300']);
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && codes.has(code)) return true;
    if ((e as { name?: unknown }).name === 'MongoServerSelectionError' || (e as { name?: unknown }).name === 'MongoNetworkError')
      return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** The one place errors become HTTP answers. Bad input is never a 500; internals never leak. */
export function errorResponse(err: unknown, request?: Request): Response {
  if (err instanceof ValidationError) return json({ error: err.message, issues: err.issues }, 400);
  // Every 400 has one shape, {error, issues}: a request-level problem (content type, malformed JSON, ...) is one issue
  // about the body as a whole (path "").
  if (err instanceof AppError && err.status === 400) return json({ error: err.message, issues: [{ path: '', message: err.message }] }, 400);
  if (err instanceof AppError) {
    if (err.status === 401) return json({ error: 'unauthorized' }, 401, { 'www-authenticate': 'Bearer realm="cronplane"' });
    return json({ error: err.message }, err.status);
  }
  if (err instanceof NameTakenError || err instanceof UsernameTakenError) return json({ error: err.message }, 409);
  const where = request ? `${request.method} ${new URL(request.url).pathname}` : 'request';
  if (isDatabaseUnavailable(err)) {
    log.error({ where, err: errorMessage(err) }, 'database unavailable');
    return json({ error: 'database unavailable' }, 503, { 'retry-after': '5' });
  }
  log.error({ where, err: err instanceof Error ? (err.stack ?? err.message) : String(err) }, 'request failed');
  return json({ error: 'internal error' }, 500);
}

export interface ApiContext<P> {
  request: Request;
  params: P;
  /** The caller; public routes get ANONYMOUS and authenticate themselves where they need to. */
  principal: ApiPrincipal;
  /** The caller and its address, for services that check roles and write the audit log. */
  actor: Actor;
}

/** Stands in for the caller of public routes (health, login): no role at all beyond reading public data. */
const ANONYMOUS: ApiPrincipal = { kind: 'system', id: null, name: 'anonymous', role: 'viewer' };

type RouteContext<P> = { params: Promise<P> };

/**
 * Wraps every route handler: authenticates (unless public), awaits the params, maps errors.
 * Handlers stay thin: parse, call lib/services, serialize.
 */
export function apiRoute<P extends Record<string, string | string[]> = Record<string, never>>(
  handler: (ctx: ApiContext<P>) => Promise<Response>,
  options: { public?: boolean } = {},
): (request: Request, context: RouteContext<P>) => Promise<Response> {
  return async (request, context) => {
    try {
      const principal = options.public ? ANONYMOUS : await requireApiAuth(request);
      const params = context?.params ? await context.params : ({} as P);
      return await handler({ request, params, principal, actor: { principal, ip: clientIp(request.headers) } });
    } catch (err) {
      return errorResponse(err, request);
    }
  };
}

/** A handler for the methods a route does not support: 405 with an Allow header. */
export function methodNotAllowed(allowed: readonly string[]): (request: Request) => Promise<Response> {
  return async (request) =>
    json({ error: `method ${request.method} not allowed; use ${allowed.join(', ')}` }, 405, { allow: allowed.join(', ') });
}

function requireJsonContentType(request: Request): void {
  const contentType = request.headers.get('content-type') ?? '';
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType !== 'application/json' && !/^application\/[\w.-]+\+json$/.test(mediaType)) {
    throw new AppError(`Content-Type must be application/json${mediaType ? `, got ${mediaType}` : ''}`, 400);
  }
}

/**
 * Reads the body as a JSON object: 400 for wrong content type, malformed JSON or a non-object; 413 above 1 MB.
 * `optional`: no body at all (any or no content type) reads as {}, for commands whose every field has a default.
 */
export async function readJsonObject(request: Request, options: { optional?: boolean } = {}): Promise<Record<string, unknown>> {
  if (!options.optional) requireJsonContentType(request);
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES)
    throw new AppError(`request body is larger than ${MAX_BODY_BYTES} bytes`, 413);
  const text = await readLimited(request, MAX_BODY_BYTES);
  if (options.optional && text.trim() === '') return {};
  if (options.optional) requireJsonContentType(request);
  if (text.trim() === '') throw new AppError('request body is empty: send a JSON object', 400);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const detail = err instanceof SyntaxError ? `: ${err.message}` : '';
    throw new AppError(`malformed JSON${detail}`, 400);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AppError(
      `request body must be a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
      400,
    );
  }
  return value as Record<string, unknown>;
}

/** Streams the body, stopping as soon as it passes `limit` (a missing or lying Content-Length cannot get past). */
async function readLimited(request: Request, limit: number): Promise<string> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new AppError(`request body is larger than ${limit} bytes`, 413);
    }
    chunks.push(value);
  }
  const bytes = Buffer.concat(chunks);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new AppError('request body is not valid UTF-8', 400);
  }
}

/** Parses the query string with a zod schema; problems become 400 field issues (path = parameter name). */
export function parseQuery<S extends z.ZodType>(schema: S, request: Request): z.output<S> {
  const params: Record<string, string> = {};
  for (const [key, value] of new URL(request.url).searchParams) {
    // Empty parameters (?tag=) mean "not given", as HTML forms send them.
    if (value !== '') params[key] = value;
  }
  const parsed = schema.safeParse(params);
  if (!parsed.success) throw new ValidationError(toFieldIssues(parsed.error.issues), 'invalid query parameters');
  return parsed.data;
}
