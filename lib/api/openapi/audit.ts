import 'server-only';
import { AuditListJsonSchema, AuditQuerySchema } from '../../validation/audit';
import { commonErrors, invalidInput, jsonContent, queryParameters, ref, schemaOf, withRole, type ApiSection } from './parts';

/** The audit log (admins only, read-only). */
export function auditSection(): ApiSection {
  // The range's bounds (format date-or-date-time) and their descriptions (from inclusive, to exclusive, as both stores
  // apply them) come from AuditQuerySchema.
  const parameters = queryParameters(AuditQuerySchema);
  return {
    paths: {
      '/api/audit': {
        get: withRole('admin', {
          summary: 'The audit log, newest first, filtered and paginated (read-only: no route edits or deletes entries)',
          operationId: 'listAudit',
          tags: ['audit'],
          parameters,
          responses: {
            '200': { description: 'A page of entries', content: jsonContent(ref('AuditList')) },
            ...invalidInput,
            ...commonErrors,
          },
        }),
      },
    },
    schemas: { AuditList: schemaOf(AuditListJsonSchema, 'output') },
  };
}
