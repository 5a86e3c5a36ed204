import 'server-only';
import { SessionsRevokedJsonSchema } from '../../validation/session';
import { UserCreateSchema, UserJsonSchema, UserListJsonSchema, UserUpdateSchema } from '../../validation/user';
import {
  commonErrors,
  errorResponse,
  idOf,
  invalidInput,
  jsonContent,
  notFoundOf,
  ref,
  schemaOf,
  tooLarge,
  withRole,
  type ApiSection,
} from './parts';

const userResponse = { description: 'The user (never the password hash)', content: jsonContent(ref('User')) };

/** Users (admins only), and ending a user's sessions. */
export function usersSection(): ApiSection {
  return {
    paths: {
      '/api/users': {
        get: withRole('admin', {
          summary: 'Every user with role and state',
          operationId: 'listUsers',
          tags: ['users'],
          responses: { '200': { description: 'Users', content: jsonContent(ref('UserList')) }, ...commonErrors },
        }),
        post: withRole('admin', {
          summary: 'Create a user with a role and an initial password',
          operationId: 'createUser',
          tags: ['users'],
          requestBody: { required: true, content: jsonContent(ref('UserCreate')) },
          responses: {
            '201': { ...userResponse, headers: { Location: { schema: { type: 'string' } } } },
            ...invalidInput,
            '409': errorResponse('Another user has this username (case-insensitive)'),
            ...tooLarge,
            ...commonErrors,
          },
        }),
      },
      '/api/users/{id}': {
        patch: withRole('admin', {
          summary:
            "Change a user's role, disable or enable, or reset the password (also lifts a lock-out); any change ends the user's sessions",
          operationId: 'updateUser',
          tags: ['users'],
          parameters: [idOf('User')],
          requestBody: { required: true, content: jsonContent(ref('UserUpdate')) },
          responses: {
            '200': userResponse,
            ...invalidInput,
            ...notFoundOf('user'),
            '409': errorResponse('The last enabled admin cannot be demoted or disabled'),
            ...tooLarge,
            ...commonErrors,
          },
        }),
        delete: withRole('admin', {
          summary: 'Delete a user',
          operationId: 'deleteUser',
          tags: ['users'],
          parameters: [idOf('User')],
          responses: {
            '204': { description: 'Deleted' },
            ...notFoundOf('user'),
            '409': errorResponse('The last enabled admin cannot be deleted'),
            ...commonErrors,
          },
        }),
      },
      '/api/users/{id}/sessions': {
        delete: withRole('admin', {
          summary: 'End every session of the user',
          operationId: 'revokeUserSessions',
          tags: ['users'],
          parameters: [idOf('User')],
          responses: {
            '200': { description: 'How many sessions ended', content: jsonContent(ref('SessionsRevoked')) },
            ...notFoundOf('user'),
            ...commonErrors,
          },
        }),
      },
    },
    schemas: {
      UserCreate: schemaOf(UserCreateSchema, 'input'),
      UserUpdate: schemaOf(UserUpdateSchema, 'input'),
      User: schemaOf(UserJsonSchema, 'output'),
      UserList: schemaOf(UserListJsonSchema, 'output'),
      SessionsRevoked: schemaOf(SessionsRevokedJsonSchema, 'output'),
    },
  };
}
