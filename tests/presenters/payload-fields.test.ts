/**
 * Form generation from payload schemas (lib/presenters/payload-fields.ts): the JSON Schema of each job type becomes
 * fields of the right kind, a payload becomes field values (toFieldValue) and the submitted strings become the same
 * payload again (parsePayloadFields), for every field kind.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { httpPayloadSchema } from '../../lib/jobs/http';
import { logPayloadSchema } from '../../lib/jobs/log';
import {
  parsePayloadFields,
  payloadFields,
  toFieldValue,
  type JsonSchemaNode,
  type PayloadField,
} from '../../lib/presenters/payload-fields';
import { MASK } from '../../lib/secrets/fields';

const jsonSchema = (schema: z.ZodType): JsonSchemaNode => z.toJSONSchema(schema, { io: 'input' }) as JsonSchemaNode;

/** What a browser submits for `payload`: each field's shown value, as FormData strings (checkboxes: "on" or absent). */
function submit(fields: PayloadField[], payload: Record<string, unknown>): Map<string, string> {
  const form = new Map<string, string>();
  for (const field of fields) {
    const value = toFieldValue(field, payload[field.name]);
    if (typeof value === 'boolean') {
      if (value) form.set(field.name, 'on');
    } else form.set(field.name, value);
  }
  return form;
}

function roundTrip(fields: PayloadField[], payload: Record<string, unknown>): ReturnType<typeof parsePayloadFields> {
  const form = submit(fields, payload);
  return parsePayloadFields(fields, (name) => form.get(name) ?? null);
}

const byName = (fields: PayloadField[], name: string): PayloadField => {
  const field = fields.find((f) => f.name === name);
  assert.ok(field, `field ${name}`);
  return field;
};

describe('payloadFields: the http and log schemas', () => {
  const http = payloadFields(jsonSchema(httpPayloadSchema));

  test('one field per property, in schema order, each of the right kind', () => {
    assert.deepEqual(
      http.map((f) => [f.name, f.kind, f.required]),
      [
        ['method', 'enum', false],
        ['url', 'string', true],
        ['headers', 'record', false],
        ['secretHeaders', 'list', false],
        ['body', 'text', false],
        ['timeoutSeconds', 'integer', false],
        ['expectedStatus', 'integer', false],
      ],
    );
    assert.deepEqual(
      payloadFields(jsonSchema(logPayloadSchema)).map((f) => [f.name, f.kind, f.required]),
      [
        ['message', 'text', true],
        ['level', 'enum', false],
        ['repeat', 'integer', false],
        ['intervalMs', 'integer', false],
      ],
    );
  });

  test('labels, descriptions, choices, defaults, bounds and formats come from the schema', () => {
    const method = byName(http, 'method');
    assert.deepEqual(method.options, ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']);
    assert.equal(method.defaultValue, 'GET');
    assert.equal(method.description, 'HTTP method');
    const url = byName(http, 'url');
    assert.equal(url.label, 'URL');
    assert.equal(url.format, 'uri');
    const timeout = byName(http, 'timeoutSeconds');
    assert.equal(timeout.label, 'Timeout seconds');
    assert.deepEqual([timeout.min, timeout.max, timeout.defaultValue], [1, 300, 30]);
    const expected = byName(http, 'expectedStatus');
    assert.equal(expected.label, 'Expected status');
    assert.deepEqual([expected.min, expected.max, expected.defaultValue], [100, 599, undefined]);
    assert.deepEqual(byName(http, 'headers').defaultValue, {});
  });
});

describe('toFieldValue and parsePayloadFields round trip', () => {
  const http = payloadFields(jsonSchema(httpPayloadSchema));

  test('a full http payload: enum, url, record with several headers, text body, integers', () => {
    const payload = {
      method: 'PATCH',
      url: 'https://api.example.com/v1/things?x=1&y=2',
      headers: { 'Content-Type': 'application/json', 'X-Trace': 'a:b:c', Accept: '*/*' },
      body: '{\n  "hello": "world"\n}',
      timeoutSeconds: 45,
      expectedStatus: 204,
    };
    assert.equal(toFieldValue(byName(http, 'headers'), payload.headers), 'Content-Type: application/json\nX-Trace: a:b:c\nAccept: */*');
    assert.equal(toFieldValue(byName(http, 'timeoutSeconds'), 45), '45');
    const { payload: back, issues } = roundTrip(http, payload);
    assert.deepEqual(issues, []);
    assert.deepEqual(back, payload);
    assert.deepEqual(httpPayloadSchema.parse(back), payload);
  });

  test('every enum choice survives (the http method list)', () => {
    for (const method of byName(http, 'method').options) {
      const payload = { method, url: 'https://example.com/', headers: {}, timeoutSeconds: 30 };
      assert.equal(roundTrip(http, payload).payload.method, method);
    }
  });

  test('empty optional fields are left out so the schema defaults apply', () => {
    const { payload, issues } = roundTrip(http, { url: 'https://example.com/' });
    assert.deepEqual(issues, []);
    assert.deepEqual(payload, { url: 'https://example.com/' });
    assert.deepEqual(httpPayloadSchema.parse(payload), { method: 'GET', url: 'https://example.com/', headers: {}, timeoutSeconds: 30 });
  });

  test('a secret header shown masked comes back masked (the service keeps the stored value for it)', () => {
    const payload = {
      method: 'GET',
      url: 'https://example.com/',
      headers: { Authorization: `${MASK}abcd`, 'X-Plain': 'visible' },
      timeoutSeconds: 30,
    };
    const headers = byName(http, 'headers');
    assert.equal(toFieldValue(headers, payload.headers), `Authorization: ${MASK}abcd\nX-Plain: visible`);
    assert.deepEqual(roundTrip(http, payload).payload.headers, payload.headers);
  });

  test('headers marked secret by the operator: a comma-separated list of names, trimmed, empty items dropped', () => {
    const payload = {
      method: 'GET',
      url: 'https://example.com/',
      headers: { 'X-Tenant': 'acme-tenant-0001', 'X-Region': 'eu' },
      secretHeaders: ['X-Tenant', 'X-Region'],
      timeoutSeconds: 30,
    };
    const marked = byName(http, 'secretHeaders');
    assert.equal(marked.label, 'Secret headers');
    assert.equal(toFieldValue(marked, payload.secretHeaders), 'X-Tenant, X-Region');
    assert.deepEqual(roundTrip(http, payload).payload, payload);
    assert.deepEqual(parsePayloadFields([marked], () => ' X-Tenant ,, X-Region,\n').payload, { secretHeaders: ['X-Tenant', 'X-Region'] });
    assert.deepEqual(parsePayloadFields([marked], () => '  ').payload, {});
  });

  test('the log schema: a required message (multi-line) and a level', () => {
    const log = payloadFields(jsonSchema(logPayloadSchema));
    const payload = { message: 'line one\nline two: with a colon', level: 'warn' };
    assert.deepEqual(roundTrip(log, payload).payload, payload);
    // A required string left empty stays present, so the schema names the field.
    assert.deepEqual(parsePayloadFields(log, () => '').payload, { message: '' });
    const refused = logPayloadSchema.safeParse({ message: '' });
    assert.equal(refused.success, false);
    assert.equal(refused.error?.issues[0]?.path[0], 'message');
  });

  test('booleans, plain numbers and free-form JSON (kinds no built-in type uses yet)', () => {
    const schema = z.object({
      enabled: z.boolean().default(false),
      dryRun: z.boolean(),
      ratio: z.number().min(0).max(1),
      options: z.object({ depth: z.number(), tags: z.array(z.string()) }).optional(),
      note: z.string().max(100).optional(),
    });
    const fields = payloadFields(jsonSchema(schema));
    assert.deepEqual(
      fields.map((f) => [f.name, f.kind]),
      [
        ['enabled', 'boolean'],
        ['dryRun', 'boolean'],
        ['ratio', 'number'],
        ['options', 'json'],
        ['note', 'string'],
      ],
    );
    assert.equal(toFieldValue(byName(fields, 'enabled'), true), true);
    assert.equal(toFieldValue(byName(fields, 'enabled'), undefined), false);
    const payload = { enabled: true, dryRun: false, ratio: 0.25, options: { depth: 2, tags: ['a', 'b'] }, note: 'hi' };
    assert.equal(toFieldValue(byName(fields, 'options'), payload.options), JSON.stringify(payload.options, null, 2));
    const { payload: back, issues } = roundTrip(fields, payload);
    assert.deepEqual(issues, []);
    assert.deepEqual(back, payload);
    assert.deepEqual(schema.parse(back), payload);
    // A checkbox posts "on" (or "true" from other clients) when ticked and nothing when not.
    assert.deepEqual(parsePayloadFields(fields, (n) => (n === 'enabled' ? 'true' : n === 'ratio' ? '1' : null)).payload, {
      enabled: true,
      dryRun: false,
      ratio: 1,
    });
  });
});

describe('parsePayloadFields: what the schema cannot say', () => {
  const http = payloadFields(jsonSchema(httpPayloadSchema));
  const read = (values: Record<string, string>) => (name: string) => values[name] ?? null;

  test('header lines: blank lines ignored, spaces trimmed, the first colon splits, CRLF accepted', () => {
    const { payload, issues } = parsePayloadFields(
      http,
      read({ url: 'https://x.example/', headers: '\r\n  X-A :  one  \r\n\r\nX-Time: 12:30:00\r\n' }),
    );
    assert.deepEqual(issues, []);
    assert.deepEqual(payload.headers, { 'X-A': 'one', 'X-Time': '12:30:00' });
  });

  test('a header line without a name or colon is an issue on the field, naming the line', () => {
    const { issues } = parsePayloadFields(http, read({ url: 'https://x.example/', headers: 'X-Ok: 1\nno colon here\n: no name' }));
    assert.deepEqual(issues, [
      { path: 'payload.headers', message: 'line 2: write "Name: value"' },
      { path: 'payload.headers', message: 'line 3: write "Name: value"' },
    ]);
  });

  test('a number that does not parse is passed on as text, so the schema reports it on that field', () => {
    const { payload } = parsePayloadFields(http, read({ url: 'https://x.example/', timeoutSeconds: 'soon', expectedStatus: ' 201 ' }));
    assert.equal(payload.timeoutSeconds, 'soon');
    assert.equal(payload.expectedStatus, 201);
    const result = httpPayloadSchema.safeParse(payload);
    assert.equal(result.success, false);
    assert.deepEqual(
      result.error?.issues.map((i) => i.path.join('.')),
      ['timeoutSeconds'],
    );
  });

  test('bad JSON in a json field is an issue, not a crash', () => {
    const fields = payloadFields(jsonSchema(z.object({ options: z.object({ a: z.number() }) })));
    assert.deepEqual(parsePayloadFields(fields, () => '{not json').issues, [{ path: 'payload.options', message: 'not valid JSON' }]);
  });
});
