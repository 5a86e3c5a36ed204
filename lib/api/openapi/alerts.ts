import 'server-only';
import { AlertDefaultsJsonSchema, AlertDefaultsSchema, AlertListJsonSchema, AlertQuerySchema } from '../../validation/alert';
import {
  commonErrors,
  invalidInput,
  invalidInput400,
  jsonContent,
  queryParameters,
  ref,
  schemaOf,
  tooLarge,
  withRole,
  type ApiSection,
} from './parts';

/** Alerts (read-only list) and the default alert rules. Rules of one job are in the job body (`alerts`). */
export function alertsSection(): ApiSection {
  const defaultsAnswer = { description: 'The default rules', content: jsonContent(ref('AlertDefaults')) };
  return {
    paths: {
      '/api/alerts': {
        get: withRole('viewer', {
          summary: 'Alerts, newest first: event, job, channel, delivery status, attempts, last error (read-only)',
          operationId: 'listAlerts',
          tags: ['alerts'],
          parameters: queryParameters(AlertQuerySchema),
          responses: {
            '200': { description: 'A page of alerts', content: jsonContent(ref('AlertList')) },
            ...invalidInput,
            ...commonErrors,
          },
        }),
      },
      '/api/alerts/defaults': {
        get: withRole('viewer', {
          summary: 'The default alert rules, applied to every job (tag null) or to the jobs with a tag, besides their own',
          operationId: 'getAlertDefaults',
          tags: ['alerts'],
          responses: { '200': defaultsAnswer, ...commonErrors },
        }),
        put: withRole('admin', {
          summary: 'Replace the default alert rules (audited)',
          description:
            "Each rule: slowAfterSeconds is required exactly when on has 'slow' (null otherwise); channelId must name an existing channel (a 400 at rules.<i>.channelId otherwise). Nothing changes on a 400.",
          operationId: 'setAlertDefaults',
          tags: ['alerts'],
          requestBody: { required: true, content: jsonContent(ref('AlertDefaultsInput')) },
          responses: {
            '200': defaultsAnswer,
            '400': invalidInput400(
              'A rule out of its bounds, an unknown channel, or not a JSON object (field-level issues); nothing changed',
            ),
            ...tooLarge,
            ...commonErrors,
          },
        }),
      },
    },
    schemas: {
      AlertList: schemaOf(AlertListJsonSchema, 'output'),
      AlertDefaults: schemaOf(AlertDefaultsJsonSchema, 'output'),
      AlertDefaultsInput: schemaOf(AlertDefaultsSchema, 'input'),
    },
  };
}
