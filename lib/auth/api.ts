import 'server-only';
import { AppError } from '../errors';
import { ADMIN_USERNAME } from './credentials';
import { SESSION_COOKIE, bearerTokenValid, verifySessionToken } from './token';

export class UnauthorizedError extends AppError {
  static readonly brand: string = 'UnauthorizedError';

  constructor() {
    super('unauthorized', 401);
  }
}

export class ForbiddenError extends AppError {
  static readonly brand: string = 'ForbiddenError';

  constructor(message: string) {
    super(message, 403);
  }
}

export interface ApiPrincipal {
  username: string;
  via: 'token' | 'session';
}

function cookieValue(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Who is calling: a valid `Authorization: Bearer <API_TOKEN>` or a valid session cookie. Throws
 * UnauthorizedError otherwise. Route handlers call it even though proxy.ts checks first (defence in depth).
 */
export function requireApiAuth(request: Request): ApiPrincipal {
  const authorization = request.headers.get('authorization');
  if (authorization) {
    // A wrong token is refused even when a cookie would pass: the caller meant the token.
    if (bearerTokenValid(authorization)) return { username: 'api', via: 'token' };
    throw new UnauthorizedError();
  }
  const session = verifySessionToken(cookieValue(request.headers.get('cookie'), SESSION_COOKIE));
  if (!session) throw new UnauthorizedError();
  // Cookies ride along on cross-site requests from other sites on the same "site" (ports,
  // subdomains) despite SameSite=Lax: state changes with a cookie must come from our own origin.
  if (!SAFE_METHODS.has(request.method)) {
    const origin = request.headers.get('origin');
    const host = request.headers.get('x-forwarded-host') ?? request.headers.get('host');
    if (origin && origin !== 'null' && host) {
      let originHost: string | null = null;
      try {
        originHost = new URL(origin).host;
      } catch {
        originHost = null;
      }
      if (originHost !== host) throw new ForbiddenError('cross-origin request refused');
    } else if (origin === 'null') {
      throw new ForbiddenError('cross-origin request refused');
    }
  }
  return { username: session.username || ADMIN_USERNAME, via: 'session' };
}
