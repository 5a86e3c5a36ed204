import 'server-only';
import { InstanceListJsonSchema } from '../../validation/instance';
import { commonErrors, jsonContent, ref, schemaOf, withRole, type ApiSection } from './parts';

/** The app's instances (read-only: they register themselves). */
export function instancesSection(): ApiSection {
  return {
    paths: {
      '/api/instances': {
        get: withRole('viewer', {
          summary: 'Every app instance with its last heartbeat',
          operationId: 'listInstances',
          tags: ['instances'],
          responses: { '200': { description: 'Instances', content: jsonContent(ref('InstanceList')) }, ...commonErrors },
        }),
      },
    },
    schemas: { InstanceList: schemaOf(InstanceListJsonSchema, 'output') },
  };
}
