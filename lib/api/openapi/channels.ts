import 'server-only';
import { CHANNEL_TYPES, WEBHOOK_HEADERS } from '../../domain';
import {
  CHANNEL_CONFIG_SCHEMAS,
  ChannelCreatedJsonSchema,
  ChannelCreateSchema,
  ChannelJsonSchema,
  ChannelListJsonSchema,
  ChannelPatchSchema,
  ChannelSigningSecretJsonSchema,
  ChannelTestFailedJsonSchema,
  ChannelTestJsonSchema,
} from '../../validation/channel';
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
  type JsonSchema,
} from './parts';

// Alert channels (issue #14): where alerts go. Admins manage and test them; every role lists their names and types.

const CONFIG_HELP: Record<(typeof CHANNEL_TYPES)[number], string> = {
  webhook: `A POST of the alert as JSON (\`type\` = the event, \`id\`, \`at\`, \`title\`, \`text\`, \`job\`, \`run\`, \`instanceId\`, \`suppressedCount\`, \`url\`; dates ISO 8601), signed per Standard Webhooks with the channel's own \`whsec_\` secret (\`${WEBHOOK_HEADERS.id}\` = the alert id, the same on every retry: deduplicate on it). A 2xx within 10 s is accepted; redirects are not followed.`,
  slack: 'A Slack incoming webhook (Mattermost accepts the same): {"text": ...}. A 2xx within 10 s is accepted.',
  email:
    'E-mail over SMTP (nodemailer): subject = the alert title, a text body, a Message-ID derived from the alert id (the same on every retry) and an X-Cronplane-Alert-Id header. The server is the channel host, or SMTP_URL for what the channel leaves out.',
};

export function channelsSection(): ApiSection {
  const create = schemaOf(ChannelCreateSchema, 'input') as { properties: Record<string, JsonSchema>; required: string[] };
  const patch = schemaOf(ChannelPatchSchema, 'input') as { properties: Record<string, JsonSchema> };
  const configName = (type: string) => `ChannelConfig_${type}`;
  const createName = (type: string) => `ChannelCreate_${type}`;
  const updateName = (type: string) => `ChannelUpdate_${type}`;
  const configs = Object.fromEntries(
    CHANNEL_TYPES.map((t) => [configName(t), { ...schemaOf(CHANNEL_CONFIG_SCHEMAS[t], 'input'), description: CONFIG_HELP[t] }]),
  );
  const createVariants = Object.fromEntries(
    CHANNEL_TYPES.map((t) => [
      createName(t),
      {
        ...create,
        description: `A new ${t} channel. ${CONFIG_HELP[t]}`,
        properties: {
          ...create.properties,
          type: { ...create.properties.type, const: t },
          config: { ...ref(configName(t)), description: `The ${t} channel's settings` },
        },
      },
    ]),
  );
  const { type: _type, config: _config, ...fields } = patch.properties;
  const updateVariants = {
    ...Object.fromEntries(
      CHANNEL_TYPES.map((t) => [
        updateName(t),
        {
          ...patch,
          description: `A change of a ${t} channel with its whole config (the type must be the channel's: another is a 409)`,
          properties: {
            ...patch.properties,
            type: { ...patch.properties.type, const: t },
            config: { ...ref(configName(t)), description: `The ${t} channel's settings, whole; masked secrets keep the stored ones` },
          },
          required: ['type', 'config'],
        },
      ]),
    ),
    ChannelUpdate_fields: { ...patch, description: 'A change that keeps the config', properties: fields },
  };
  const idParameter = idOf('Channel');
  const admin = (operation: JsonSchema) => withRole('admin', { tags: ['channels'], parameters: [idParameter], ...operation });

  return {
    paths: {
      '/api/channels': {
        get: withRole('viewer', {
          summary: 'Every alert channel, by name: admins see them whole (secrets masked), other roles id, name and type',
          operationId: 'listChannels',
          tags: ['channels'],
          responses: { '200': { description: 'Channels', content: jsonContent(ref('ChannelList')) }, ...commonErrors },
        }),
        post: withRole('admin', {
          summary: "Create an alert channel; a webhook channel's signing secret is in this answer only",
          description:
            'The type decides the config. Secrets (a webhook URL\'s query string and user info, a Slack URL, an SMTP password) are encrypted and shown masked ("••••") from then on. Names are unique (409).',
          operationId: 'createChannel',
          tags: ['channels'],
          requestBody: {
            required: true,
            content: jsonContent({
              description: 'A new channel; `type` decides the schema of `config`',
              oneOf: CHANNEL_TYPES.map((t) => ref(createName(t))),
              discriminator: {
                propertyName: 'type',
                mapping: Object.fromEntries(CHANNEL_TYPES.map((t) => [t, `#/components/schemas/${createName(t)}`])),
              },
            }),
          },
          responses: {
            '201': {
              description: "The channel (secrets masked), and a webhook channel's signing secret",
              content: jsonContent(ref('ChannelCreated')),
            },
            ...invalidInput,
            '409': errorResponse('Another channel has this name'),
            ...tooLarge,
            ...commonErrors,
          },
        }),
      },
      '/api/channels/{id}': {
        get: withRole('viewer', {
          summary: 'One alert channel: admins see it whole (secrets masked), other roles id, name and type',
          operationId: 'getChannel',
          tags: ['channels'],
          parameters: [idParameter],
          responses: {
            '200': { description: 'The channel', content: jsonContent(ref('Channel')) },
            ...notFoundOf('channel'),
            ...commonErrors,
          },
        }),
        patch: admin({
          summary: 'Change a channel: name, daily cap, and its whole config (with its type)',
          description:
            "Send back a masked secret unchanged to keep the stored one; an SMTP password is kept only while host and port stay the same (else type it again). `type` and `config` go together, and the type is the channel's own (another type is a 409).",
          operationId: 'updateChannel',
          requestBody: {
            required: true,
            content: jsonContent({
              description: 'Any subset of name and dailyCap; `type` and `config` together or not at all',
              oneOf: [...CHANNEL_TYPES.map((t) => ref(updateName(t))), ref('ChannelUpdate_fields')],
            }),
          },
          responses: {
            '200': { description: 'The channel as changed (secrets masked)', content: jsonContent(ref('Channel')) },
            ...invalidInput,
            ...notFoundOf('channel'),
            '409': errorResponse("Another channel has this name, or the type is not the channel's"),
            ...tooLarge,
            ...commonErrors,
          },
        }),
        delete: admin({
          summary: 'Delete a channel',
          description:
            'Refused while alert rules use the channel: a 409 whose `error` names the jobs whose rules name it and "the alert defaults" when a default rule does; nothing is deleted (change those rules first).',
          operationId: 'deleteChannel',
          responses: {
            '204': { description: 'Deleted' },
            ...notFoundOf('channel'),
            '409': errorResponse('Alert rules use this channel: the jobs whose rules name it and/or the alert defaults, in `error`'),
            ...commonErrors,
          },
        }),
      },
      '/api/channels/{id}/test': {
        post: admin({
          summary: 'Send a test alert through the channel now (audited)',
          description:
            'The alert has event `test` and a fresh id. 200 when the channel accepted it (a 2xx, the SMTP server took the mail); 502 with the reason when it did not (the body has no secrets).',
          operationId: 'testChannel',
          responses: {
            '200': { description: 'The channel accepted the test alert', content: jsonContent(ref('ChannelTestSent')) },
            '502': { description: 'The channel did not accept it, and why', content: jsonContent(ref('ChannelTestFailed')) },
            ...notFoundOf('channel'),
            ...commonErrors,
          },
        }),
      },
      '/api/channels/{id}/signing-secret/reveal': {
        post: admin({
          summary: "Show a webhook channel's signing secret (audited)",
          operationId: 'revealChannelSigningSecret',
          responses: {
            '200': { description: 'The secret', content: jsonContent(ref('ChannelSigningSecret')) },
            ...notFoundOf('channel'),
            '409': errorResponse('Not a webhook channel: only those sign what they send'),
            ...commonErrors,
          },
        }),
      },
    },
    schemas: {
      ...configs,
      ...createVariants,
      ...updateVariants,
      Channel: schemaOf(ChannelJsonSchema, 'output'),
      ChannelList: schemaOf(ChannelListJsonSchema, 'output'),
      ChannelCreated: schemaOf(ChannelCreatedJsonSchema, 'output'),
      ChannelSigningSecret: schemaOf(ChannelSigningSecretJsonSchema, 'output'),
      ChannelTestSent: schemaOf(ChannelTestJsonSchema, 'output'),
      ChannelTestFailed: schemaOf(ChannelTestFailedJsonSchema, 'output'),
    },
  };
}
