import 'server-only';
import { ErrorJsonSchema, HealthJsonSchema, ValidationErrorJsonSchema } from '../schemas';
import { EventsQuerySchema } from '../../validation/events';
import { commonErrors, invalidInput400, jsonContent, queryParameters, ref, schemaOf, withRole, type ApiSection } from './parts';

/** What belongs to no resource: the health probe, this document, the change stream, and the error answers. */
export function metaSection(): ApiSection {
  return {
    paths: {
      '/api/health': {
        get: withRole(null, {
          summary:
            'Liveness and database reachability: public, only `status`; with credentials (any role) also the instance, store, scheduler and dispatch',
          operationId: 'getHealth',
          tags: ['meta'],
          responses: {
            '200': { description: 'Healthy', content: jsonContent(ref('Health')) },
            '503': { description: 'Degraded: the database is unreachable', content: jsonContent(ref('Health')) },
          },
        }),
      },
      '/api/openapi.json': {
        get: withRole('viewer', {
          summary: 'This document',
          operationId: 'getOpenApi',
          tags: ['meta'],
          responses: {
            '200': { description: 'OpenAPI 3.1 document', content: jsonContent({ type: 'object' }) },
            '401': commonErrors['401'],
          },
        }),
      },
      '/api/events': {
        get: withRole('viewer', {
          summary:
            'Server-sent events: `event: runs|jobs|instances` whenever that part of the data changed (no payload; re-read what you show); with `run`, also `event: output` for that run’s new live output',
          operationId: 'streamEvents',
          tags: ['meta'],
          parameters: queryParameters(EventsQuerySchema),
          responses: {
            '200': {
              description: 'An endless event stream (hello first, then changes, keepalive comments every 15 s)',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
            '400': invalidInput400('`run` is not a run id (field-level issues)'),
            ...commonErrors,
          },
        }),
      },
    },
    schemas: {
      Health: schemaOf(HealthJsonSchema, 'output'),
      Error: schemaOf(ErrorJsonSchema, 'output'),
      ValidationError: schemaOf(ValidationErrorJsonSchema, 'output'),
    },
  };
}
