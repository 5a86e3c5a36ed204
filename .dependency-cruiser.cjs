/**
 * The dependency rules `npm test` checks (`npm run deps`). Layers, lowest first; a module may import its own layer and
 * the layers below it, never one above:
 *
 *   lib/domain                 the domain's words: statuses, policies, roles, default retry, schedule types, secret
 *                              header names. Imports nothing.
 *   lib/errors, lib/instance, lib/log, lib/schedule, lib/net
 *   lib/store                  the Store contract and its PostgreSQL and MongoDB implementations
 *   lib/jobs (the job types)   handlers get what they need through their context (never the store module itself)
 *   lib/secrets/fields.ts      which payload fields are secrets; scrubbing of handler output
 *   lib/jobs/registry.ts       every job type, each handler wrapped by the scrubbing
 *   lib/secrets                payload encryption and masking by job type
 *   lib/validation             zod schemas at the boundary (job payloads come from the job types)
 *   lib/scheduler              the coordinated scheduler
 *   lib/auth                   credentials, sessions, tokens, roles
 *   lib/presenters             view models for the dashboard
 *   lib/services               what the app does; pages and route handlers call these
 *   lib/api, lib/examples.ts   the REST API's plumbing, the example jobs; lib/security-headers.mjs,
 *                              lib/http-methods.ts, lib/method-guard.ts: the headers and methods of every answer
 *   app/, instrumentation.ts, proxy.ts
 *
 * Plus: no cycles (type-only imports included); lib never imports app; pages and route handlers never import the
 * store's implementations or the scheduler (they go through lib/services; the store's types are fine).
 */
const LAYERS = [
  ['^lib/domain/'],
  ['^lib/errors\\.ts$', '^lib/instance\\.ts$', '^lib/log\\.ts$', '^lib/schedule/', '^lib/net/'],
  ['^lib/store/'],
  ['^lib/jobs/(?!registry\\.ts$)'],
  ['^lib/secrets/fields\\.ts$'],
  ['^lib/jobs/registry\\.ts$'],
  ['^lib/secrets/(?!fields\\.ts$)'],
  ['^lib/validation/'],
  ['^lib/scheduler/'],
  ['^lib/auth/'],
  ['^lib/presenters/'],
  ['^lib/services/'],
  ['^lib/api/', '^lib/examples\\.ts$', '^lib/security-headers\\.mjs$', '^lib/http-methods\\.ts$', '^lib/method-guard\\.ts$'],
];

/** One rule per layer: nothing in it imports a module of any layer above it. */
const upward = LAYERS.slice(0, -1).map((paths, i) => ({
  name: `layer-${i}-imports-no-layer-above`,
  comment: 'A module imports its own layer and the layers below it only (see the list at the top of this file).',
  severity: 'error',
  from: { path: paths },
  to: { path: LAYERS.slice(i + 1).flat() },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules that import each other, directly or through others, cannot be understood (or tested) alone.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-imports-nothing',
      comment: 'lib/domain holds the words of the domain; it depends on nothing, so everything can depend on it.',
      severity: 'error',
      from: { path: '^lib/domain/' },
      to: { pathNot: '^lib/domain/' },
    },
    {
      name: 'lib-never-imports-app',
      comment: 'app/ is the top layer: pages, route handlers and components use lib, never the reverse.',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: '^app/' },
    },
    {
      name: 'app-goes-through-services',
      comment: 'Pages and route handlers go through lib/services, never to the store or the scheduler directly.',
      severity: 'error',
      from: { path: '^app/' },
      to: { path: ['^lib/store/(?!types\\.ts$|contract/)', '^lib/scheduler/'] },
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^lib/generated/', '\\.next', 'node_modules'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
