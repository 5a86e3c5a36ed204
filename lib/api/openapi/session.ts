import 'server-only';
import { SessionCreateSchema, SessionJsonSchema, WhoAmIJsonSchema } from '../../validation/session';
import { commonErrors, errorResponse, invalidInput400, jsonContent, ref, schemaOf, withRole, type ApiSection } from './parts';

/** Signing in and out over JSON, and who the caller is. */
export function sessionSection(): ApiSection {
  return {
    paths: {
      '/api/session': {
        get: withRole('viewer', {
          summary: "Who am I: the caller's kind, name and role",
          operationId: 'getSession',
          tags: ['session'],
          responses: { '200': { description: 'The caller', content: jsonContent(ref('WhoAmI')) }, ...commonErrors },
        }),
        post: withRole(null, {
          summary: 'Sign in (JSON): sets the session cookie; same limits, lock-out and audit as the form; cross-origin posts are refused',
          operationId: 'createSession',
          tags: ['session'],
          requestBody: { required: true, content: jsonContent(ref('SessionCreate')) },
          responses: {
            '200': {
              description: 'Signed in; the cookie is in Set-Cookie',
              content: jsonContent(ref('Session')),
              headers: { 'Set-Cookie': { schema: { type: 'string' } } },
            },
            '400': invalidInput400('Username or password missing or blank, a username with control characters, or not a JSON object'),
            '401': errorResponse('Wrong username or password (also for disabled and locked accounts)'),
            '403': errorResponse('Cross-origin request'),
            '429': {
              ...errorResponse('Too many failed attempts from this address, or the account is locked after failed sign-ins'),
              headers: { 'Retry-After': { description: 'Seconds until an attempt is possible again', schema: { type: 'integer' } } },
            },
            '500': commonErrors['500'],
            '503': commonErrors['503'],
          },
        }),
        delete: withRole('viewer', {
          summary: 'Sign out: the session is revoked on the server and the cookie cleared',
          operationId: 'deleteSession',
          tags: ['session'],
          responses: { '204': { description: 'Signed out' }, ...commonErrors },
        }),
      },
    },
    schemas: {
      SessionCreate: schemaOf(SessionCreateSchema, 'input'),
      Session: schemaOf(SessionJsonSchema, 'output'),
      WhoAmI: schemaOf(WhoAmIJsonSchema, 'output'),
    },
  };
}
