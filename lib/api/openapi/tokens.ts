import 'server-only';
import { TokenCreateSchema, TokenCreatedJsonSchema, TokenListJsonSchema } from '../../validation/token';
import { commonErrors, idOf, invalidInput, jsonContent, notFoundOf, ref, schemaOf, tooLarge, withRole, type ApiSection } from './parts';

/** API tokens (admins only). */
export function tokensSection(): ApiSection {
  return {
    paths: {
      '/api/tokens': {
        get: withRole('admin', {
          summary: 'Every API token (revoked ones included), without secrets',
          operationId: 'listTokens',
          tags: ['tokens'],
          responses: { '200': { description: 'Tokens', content: jsonContent(ref('TokenList')) }, ...commonErrors },
        }),
        post: withRole('admin', {
          summary: 'Create an API token acting with a role; the secret is in this answer only',
          operationId: 'createToken',
          tags: ['tokens'],
          requestBody: { required: true, content: jsonContent(ref('TokenCreate')) },
          responses: {
            '201': { description: 'The token with its secret', content: jsonContent(ref('TokenCreated')) },
            ...invalidInput,
            ...tooLarge,
            ...commonErrors,
          },
        }),
      },
      '/api/tokens/{id}': {
        delete: withRole('admin', {
          summary: 'Revoke a token (kept, with revokedAt, for the record); it gets 401 from then on',
          operationId: 'revokeToken',
          tags: ['tokens'],
          parameters: [idOf('Token')],
          responses: { '204': { description: 'Revoked' }, ...notFoundOf('token (or it is already revoked)'), ...commonErrors },
        }),
      },
    },
    schemas: {
      TokenCreate: schemaOf(TokenCreateSchema, 'input'),
      TokenCreated: schemaOf(TokenCreatedJsonSchema, 'output'),
      TokenList: schemaOf(TokenListJsonSchema, 'output'),
    },
  };
}
