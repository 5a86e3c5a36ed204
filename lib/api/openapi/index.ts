import 'server-only';
import { SESSION_COOKIE } from '../../auth/token';
import { alertsSection } from './alerts';
import { auditSection } from './audit';
import { channelsSection } from './channels';
import { deliveriesSection } from './deliveries';
import { instancesSection } from './instances';
import { jobsSection } from './jobs';
import { metaSection } from './meta';
import { runsSection } from './runs';
import { runCancelSection } from './run-cancel';
import type { ApiSection, JsonSchema } from './parts';
import { runOutputSection } from './run-output';
import { sessionSection } from './session';
import { tokensSection } from './tokens';
import { usersSection } from './users';

// The OpenAPI 3.1 document of /api, one file per resource beside this one (its paths and the component schemas they
// refer to), all generated from the zod schemas in lib/validation that the handlers validate with.

function buildDocument(): JsonSchema {
  const deliveries = deliveriesSection();
  const sections: ApiSection[] = [
    metaSection(),
    jobsSection(),
    runsSection(),
    runOutputSection(),
    runCancelSection(),
    deliveries,
    instancesSection(),
    usersSection(),
    tokensSection(),
    sessionSection(),
    auditSection(),
    channelsSection(),
    alertsSection(),
  ];
  return {
    openapi: '3.1.0',
    info: {
      title: 'Cronplane API',
      version: '1.0.0',
      description:
        'Manage scheduled jobs and inspect their runs. Authenticate with `Authorization: Bearer <API_TOKEN>` (or a dashboard session cookie). Errors are JSON: {"error": "..."}, plus "issues" for invalid input (every 400). Each operation names the least role it needs in `x-required-role` (viewer < operator < admin; null = public); a lower role gets 403. Extensions in schemas: `x-secret` marks payload fields whose values are secrets (`header-values`: the values of credential-named headers), encrypted at rest and masked when shown; `x-pattern-unicode` is a pattern as the server writes it (ECMA-262 with Unicode property escapes such as \\p{L}), beside `pattern`, the same rule spelled out as code point ranges for dialects without them (Python\'s re, for one). Lengths count characters (code points); a text the server trims is described by one pattern on the text as sent. Custom string formats: `cron` (5 or 6 fields, croner syntax, firing at least once), `time-zone` (an IANA time zone name), `paging-cursor` (a list\'s nextCursor, passed back as is), `tag` (a job tag, exactly as its pattern says), `date-or-date-time` (ISO-8601: a date, midnight UTC, or a date-time, UTC without an offset). A 400 is always {"error", "issues"}: a problem with the request as a whole (content type, malformed JSON) is one issue at path "". An empty query parameter (`?tag=`) is the same as none.',
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }, { sessionCookie: [] }],
    tags: [
      { name: 'jobs', description: "Scheduled jobs: create, change, pause, resume, run now, delete; http jobs' signing secrets" },
      {
        name: 'runs',
        description:
          'Runs (one record per occurrence, or per range of missed ones): the history across jobs with filters, a run with its attempts; cancelling a run',
      },
      { name: 'instances', description: 'The app instances that serve the API and run the scheduler, with their heartbeats' },
      { name: 'users', description: 'Dashboard users, their roles and sessions (admins only)' },
      { name: 'tokens', description: 'API tokens acting with a role (admins only)' },
      { name: 'session', description: 'Signing in and out, and who the caller is' },
      { name: 'audit', description: 'The append-only audit log of changes and sign-ins (admins only)' },
      { name: 'channels', description: 'Alert channels: where alerts go (webhook, Slack, e-mail); managed and tested by admins' },
      { name: 'alerts', description: 'Alerts sent to channels (exactly one per event and channel) and the default alert rules' },
      { name: 'meta', description: 'Health probe, this document and the change stream' },
    ],
    paths: Object.assign({}, ...sections.map((s) => s.paths)) as JsonSchema,
    // What http jobs send: the calls Cronplane makes, not ones it answers.
    webhooks: deliveries.webhooks,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'API_TOKEN' },
        sessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description: 'Dashboard session (same origin only for changes)',
        },
      },
      schemas: Object.assign({}, ...sections.map((s) => s.schemas)) as JsonSchema,
    },
  };
}

let cached: JsonSchema | null = null;

/** Generated from the same zod schemas the handlers validate with, so it cannot drift from them. */
export function openApiDocument(): JsonSchema {
  cached ??= buildDocument();
  return cached;
}
