/**
 * The OpenAPI document against the route files on disk: every route under app/api is listed with exactly the
 * methods it implements, every operation names the role it needs, and every $ref resolves. No server needed.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { openApiDocument } from '../../lib/api/openapi';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const API_DIR = join(ROOT, 'app', 'api');
const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'] as const;

interface RouteFile {
  /** OpenAPI path, e.g. /api/jobs/{id}/runs. */
  path: string;
  file: string;
  /** Methods with a real handler (`export const GET = ...`), lower case; the 405 stubs (`export { notAllowed as PUT }`) do not count. */
  methods: string[];
}

function routeFiles(dir: string): RouteFile[] {
  const found: RouteFile[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...routeFiles(full));
    else if (/^route\.(ts|tsx|js|mjs)$/.test(entry.name)) {
      const segments = relative(join(ROOT, 'app'), dir).split(sep);
      // The catch-all answers JSON 404s for unknown paths: it is not an endpoint.
      if (segments.some((s) => s.startsWith('[...') || s.startsWith('[[...'))) continue;
      const path = `/${segments
        .filter((s) => !/^\(.*\)$/.test(s)) // route groups do not appear in URLs
        .map((s) => s.replace(/^\[(\w+)\]$/, '{$1}'))
        .join('/')}`;
      const source = readFileSync(full, 'utf8');
      const methods = [
        ...source.matchAll(/export\s+(?:const|async\s+function|function)\s+(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\b/g),
      ].map((m) => m[1]!.toLowerCase());
      found.push({ path, file: relative(ROOT, full), methods: [...new Set(methods)].sort() });
    }
  }
  return found;
}

type Json = Record<string, any>;
const doc = openApiDocument() as Json;
const routes = routeFiles(API_DIR);

function operations(): Array<{ path: string; method: string; op: Json }> {
  return Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => (METHODS as readonly string[]).includes(method))
      .map(([method, op]) => ({ path, method, op: op as Json })),
  );
}

describe('OpenAPI document vs app/api', () => {
  test('the route scan finds the known routes (so the comparison below is not vacuous)', () => {
    const paths = routes.map((r) => r.path);
    for (const known of ['/api/jobs', '/api/jobs/{id}', '/api/users/{id}/sessions', '/api/tokens/{id}', '/api/session', '/api/audit']) {
      assert.ok(paths.includes(known), `${known} found on disk (found: ${paths.join(', ')})`);
    }
    assert.deepEqual(routes.find((r) => r.path === '/api/jobs/{id}')?.methods, ['delete', 'get', 'patch']);
  });

  test('every route file is in the document with exactly the methods it implements, and nothing else is', () => {
    const onDisk = Object.fromEntries(routes.map((r) => [r.path, r.methods]));
    const documented = Object.fromEntries(
      Object.entries(doc.paths as Record<string, Json>).map(([path, item]) => [
        path,
        Object.keys(item)
          .filter((k) => (METHODS as readonly string[]).includes(k))
          .sort(),
      ]),
    );
    for (const route of routes) {
      assert.ok(documented[route.path], `${route.file} serves ${route.path}, which the OpenAPI document does not list`);
      assert.deepEqual(documented[route.path], route.methods, `${route.path}: documented methods vs the handlers in ${route.file}`);
    }
    for (const path of Object.keys(documented)) assert.ok(onDisk[path], `the document lists ${path}, but no route file serves it`);
  });

  test('every operation: unique operationId, responses, path parameters, and the role it needs', () => {
    const ids = new Set<string>();
    for (const { path, method, op } of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      assert.ok(typeof op.operationId === 'string' && !ids.has(op.operationId), `${where}: unique operationId`);
      ids.add(op.operationId);
      assert.ok(Object.keys(op.responses ?? {}).length > 0, `${where}: responses`);
      for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
        assert.ok(
          (op.parameters ?? []).some((p: Json) => p.name === name && p.in === 'path' && p.required === true),
          `${where}: path parameter ${name}`,
        );
      }
      assert.ok('x-required-role' in op, `${where}: x-required-role`);
      const role = op['x-required-role'] as unknown;
      assert.ok(role === null || role === 'viewer' || role === 'operator' || role === 'admin', `${where}: role ${String(role)}`);
      if (role === null) assert.deepEqual(op.security, [], `${where}: public operations override the global security`);
      else assert.equal(op.security, undefined, `${where}: protected operations keep the global bearer/cookie security`);
      if (role === 'operator' || role === 'admin') {
        assert.ok(op.responses['403'], `${where}: documents the 403 a lower role gets`);
        assert.match(op.description, new RegExp(role), `${where}: the description names the role`);
      }
    }
    // Spot checks of what the handlers enforce (the role tests call every operation with lower roles).
    assert.equal(doc.paths['/api/health'].get['x-required-role'], null);
    assert.equal(doc.paths['/api/session'].post['x-required-role'], null);
    assert.equal(doc.paths['/api/jobs'].get['x-required-role'], 'viewer');
    assert.equal(doc.paths['/api/jobs'].post['x-required-role'], 'operator');
    for (const [path, method] of [
      ['/api/users', 'post'],
      ['/api/users/{id}', 'patch'],
      ['/api/users/{id}/sessions', 'delete'],
      ['/api/tokens/{id}', 'delete'],
      ['/api/audit', 'get'],
    ] as const) {
      assert.equal(doc.paths[path][method]['x-required-role'], 'admin', `${method} ${path}`);
    }
  });

  test("http jobs' deliveries: the signing-secret routes need an operator, the headers are described as a webhook", () => {
    for (const action of ['reveal', 'rotate']) {
      const op = doc.paths[`/api/jobs/{id}/signing-secret/${action}`].post;
      assert.equal(op['x-required-role'], 'operator', action);
      for (const status of ['200', '403', '404', '409']) assert.ok(op.responses[status], `${action} documents ${status}`);
    }
    assert.equal(doc.paths['/api/jobs/{id}/signing-secret/rotate'].post.requestBody.required, false, 'the body is optional');
    const delivery = doc.webhooks.httpJobDelivery.post;
    const headers = (delivery.parameters as Json[]).filter((p) => p.in === 'header').map((p) => p.name);
    for (const name of [
      'webhook-id',
      'webhook-timestamp',
      'webhook-signature',
      'Idempotency-Key',
      'Cronplane-Scheduled-For',
      'Cronplane-Attempt',
    ])
      assert.ok(headers.includes(name), `the delivery describes ${name}`);
    assert.match(delivery.description, /Standard Webhooks/);
    assert.match(
      doc.components.schemas.Payload_http.description,
      /webhook-signature/,
      "the http payload's description says how deliveries are signed",
    );
  });

  test('every $ref resolves, and every component is used', () => {
    const text = JSON.stringify(doc);
    const refs = [...text.matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(refs.length > 20);
    for (const ref of refs) {
      assert.match(ref, /^#\/components\/schemas\/[\w.-]+$/);
      assert.ok(doc.components.schemas[ref.slice('#/components/schemas/'.length)], `${ref} resolves`);
    }
    const used = new Set(refs.map((r) => r.slice('#/components/schemas/'.length)));
    const unused = Object.keys(doc.components.schemas).filter((name) => !used.has(name));
    assert.deepEqual(unused, []);
  });

  test('the new schemas come from the zod schemas the services validate with', () => {
    const s = doc.components.schemas;
    assert.deepEqual([...s.UserCreate.required].sort(), ['password', 'role', 'username']);
    assert.equal(s.UserCreate.additionalProperties, false);
    assert.deepEqual(s.UserCreate.properties.role.enum, ['admin', 'operator', 'viewer']);
    assert.ok(s.UserCreate.properties.password.minLength >= 8);
    assert.equal(s.UserUpdate.required, undefined, 'every field of a user update is optional');
    assert.deepEqual(Object.keys(s.UserUpdate.properties).sort(), ['disabled', 'password', 'role']);
    assert.deepEqual([...s.TokenCreate.required].sort(), ['name', 'role']);
    assert.equal('passwordHash' in s.User.properties, false);
    assert.equal('tokenHash' in s.TokenCreated.properties, false);
    assert.ok(s.TokenCreated.required.includes('secret'));
    assert.equal('secret' in s.TokenList.properties.tokens.items.properties, false, 'listed tokens carry no secret');
    assert.equal('signingSecret' in s.Job.properties, false, 'a job carries no signing secret');
    assert.equal('signingSecret' in s.JobList.properties.jobs.items.properties, false);
    assert.ok(s.JobCreated.properties.signingSecret, 'the 201 of POST /api/jobs may carry it');
    assert.equal(s.JobCreated.required.includes('signingSecret'), false, 'only http jobs have one');
    assert.deepEqual(doc.paths['/api/jobs'].post.responses['201'].content['application/json'].schema, {
      $ref: '#/components/schemas/JobCreated',
    });
    assert.deepEqual(s.SigningSecretRotate.properties.graceSeconds, {
      ...s.SigningSecretRotate.properties.graceSeconds,
      type: 'integer',
      minimum: 0,
      maximum: 604_800,
      default: 86_400,
    });
    assert.equal(s.SigningSecretRotate.additionalProperties, false);
    assert.deepEqual([...s.SigningSecret.required].sort(), ['createdAt', 'previousValidUntil', 'signingSecret']);
    assert.deepEqual(doc.paths['/api/audit'].get.parameters.map((p: Json) => p.name).sort(), [
      'action',
      'actor',
      'cursor',
      'from',
      'limit',
      'targetId',
      'targetType',
      'to',
    ]);
  });
});

describe('OpenAPI document: portable to tools that are not JavaScript', () => {
  const patterns = (value: unknown, found: Array<{ pattern: string; unicode?: string }> = []) => {
    if (Array.isArray(value)) for (const item of value) patterns(item, found);
    else if (value && typeof value === 'object') {
      const object = value as Json;
      if (typeof object.pattern === 'string') found.push({ pattern: object.pattern, unicode: object['x-pattern-unicode'] });
      for (const [key, item] of Object.entries(object)) if (key !== 'pattern') patterns(item, found);
    }
    return found;
  };

  test('no pattern uses a Unicode property escape; each spelled-out pattern matches exactly what the code pattern matches', () => {
    const all = patterns(doc);
    assert.ok(all.length > 10);
    for (const { pattern } of all) assert.doesNotMatch(pattern, /\\[pP]\{/, pattern.slice(0, 80));
    const translated = all.filter((p) => p.unicode !== undefined);
    // Tags, usernames and the control-character rule of the list filters (lib/validation).
    assert.ok(translated.length >= 3, `translated patterns: ${translated.length}`);
    const seen = new Set<string>();
    for (const { pattern, unicode } of translated) {
      if (seen.has(unicode!)) continue;
      seen.add(unicode!);
      const original = new RegExp(unicode!, 'u');
      const portable = new RegExp(pattern, 'u');
      // Every code point alone and between two letters (surrogates are not characters of their own).
      for (let cp = 0; cp <= 0x10ffff; cp += cp < 0x20000 ? 1 : 7) {
        if (cp >= 0xd800 && cp <= 0xdfff) continue;
        for (const text of [String.fromCodePoint(cp), `a${String.fromCodePoint(cp)}b`]) {
          assert.equal(portable.test(text), original.test(text), `${unicode} vs its spelled-out form on U+${cp.toString(16)}`);
        }
      }
    }
  });

  test('no keyword outside the standard vocabulary unless it is an x- extension (the payload secret marker included)', () => {
    const http = doc.components.schemas.Payload_http;
    assert.equal(http.properties.headers['x-secret'], 'header-values');
    assert.equal('secret' in http.properties.headers, false);
  });

  test('tags are described, and the job body refers to every payload schema through its type', () => {
    for (const tag of doc.tags as Json[]) assert.ok(typeof tag.description === 'string' && tag.description.length > 10, tag.name);
    const body = doc.components.schemas.JobCreate;
    assert.equal(body.discriminator.propertyName, 'type');
    for (const name of Object.keys(doc.components.schemas).filter((n) => n.startsWith('Payload_'))) {
      const type = name.slice('Payload_'.length);
      const variant = doc.components.schemas[`JobCreate_${type}`];
      assert.ok(variant, `JobCreate_${type}`);
      assert.equal(variant.properties.type.const, type);
      assert.equal(variant.properties.payload.$ref, `#/components/schemas/${name}`);
      assert.equal(body.discriminator.mapping[type], `#/components/schemas/JobCreate_${type}`);
      // A change: type and payload together (required both), or neither (JobUpdate_fields has no such property).
      const update = doc.components.schemas[`JobUpdate_${type}`];
      assert.deepEqual(update.required, ['type', 'payload']);
      assert.equal(update.properties.payload.$ref, `#/components/schemas/${name}`);
    }
    const fields = doc.components.schemas.JobUpdate_fields;
    assert.equal('type' in fields.properties || 'payload' in fields.properties, false);
    assert.equal(fields.additionalProperties, false);
    assert.equal(doc.components.schemas.JobUpdate.oneOf.length, Object.keys(body.discriminator.mapping).length + 1);
  });
});
