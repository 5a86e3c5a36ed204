/**
 * The API contract, checked by tools we did not write (README "API contract"):
 * - the OpenAPI document passes openapi-spec-validator (PyPI) and Redocly's `lint` with its recommended rules (npm
 *   @redocly/cli), both exit 0;
 * - Schemathesis (PyPI) runs against a real `next start` (the build in NEXT_DIST_DIR, a fresh PostgreSQL, the scheduler
 *   off so no job it creates ever runs) with all its default checks, bounded, and reports no failure. The strategies of
 *   the document's custom formats are in tools/api-check/hooks.py.
 * The Python tools live in tools/api-check/.venv: `bash scripts/prereqs.sh python` (npm test runs it).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { openApiDocument } from '../../lib/api/openapi';
import { startApp, type StartedApp } from '../support/app';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const VENV_BIN = join(ROOT, 'tools', 'api-check', '.venv', 'bin');
const REDOCLY = join(ROOT, 'node_modules', '.bin', 'redocly');
const PREREQS = 'run `bash scripts/prereqs.sh python` (npm test does) to make tools/api-check/.venv';

/** Redocly phones nowhere: no telemetry, no update or other notices. */
const QUIET_REDOCLY = {
  REDOCLY_TELEMETRY: 'off',
  REDOCLY_SUPPRESS_NOTIFICATIONS: 'true',
  REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
  DO_NOT_TRACK: '1',
};

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  timedOut: boolean;
}

/** Runs a command to its end (SIGKILL after `timeoutMs`), stdout and stderr interleaved. */
function run(command: string, args: string[], options: { env?: Record<string, string>; timeoutMs: number; cwd?: string }): Promise<Ran> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, output, timedOut });
    });
  });
}

function assertRan(ran: Ran, what: string): void {
  assert.ok(
    !ran.timedOut && ran.code === 0,
    `${what} ${ran.timedOut ? 'timed out' : `exited ${ran.code ?? ran.signal}`}; its output:\n${ran.output}`,
  );
}

const work = mkdtempSync(join(tmpdir(), 'cronplane-contract-'));
after(() => rmSync(work, { recursive: true, force: true }));

describe('OpenAPI document: the linters', () => {
  const file = join(work, 'openapi.json');
  before(() => writeFileSync(file, JSON.stringify(openApiDocument(), null, 2)));

  test('openapi-spec-validator (OpenAPI 3.1 and JSON Schema 2020-12, patterns compiled by Python) finds no error', async () => {
    const validator = join(VENV_BIN, 'openapi-spec-validator');
    assert.ok(existsSync(validator), `no ${validator}: ${PREREQS}`);
    const ran = await run(validator, [file], { timeoutMs: 60_000 });
    assertRan(ran, 'openapi-spec-validator');
    assert.match(ran.output, /OK/);
  });

  test("Redocly's lint with the recommended rules finds no error", async () => {
    assert.ok(existsSync(REDOCLY), `no ${REDOCLY}: npm ci`);
    const ran = await run(REDOCLY, ['lint', '--extends=recommended', '--format=stylish', file], { env: QUIET_REDOCLY, timeoutMs: 60_000 });
    assertRan(ran, 'redocly lint');
    // Warnings do not fail the lint; say which there are, so a new one is seen in the test log.
    const warnings = [...ran.output.matchAll(/warning\s+(\S+)/g)].map((m) => m[1]);
    if (warnings.length > 0) console.log(`redocly lint: ${warnings.length} warning(s): ${[...new Set(warnings)].join(', ')}`);
  });
});

/**
 * Schemathesis' bounds: test cases per operation in the fuzzing and stateful phases (the coverage phase makes its own
 * boundary cases), the seed (fixed, so a failure is reproduced by running the same command; set CONTRACT_SEED to explore
 * others, CONTRACT_MAX_EXAMPLES for a longer run), and a hard stop. On an idle 2-core machine the run takes under two
 * minutes, about three beside another test file's load. Not --max-time: Schemathesis 4.32.5 then repeats its phases to fill the budget, and its coverage catch-up
 * pass failed inside the tool (a KeyError) when we tried.
 */
const MAX_EXAMPLES = Number(process.env.CONTRACT_MAX_EXAMPLES ?? 15);
const SEED = process.env.CONTRACT_SEED ?? '20261206';
const SCHEMATHESIS_TIMEOUT_MS = 300_000;

describe('Schemathesis against next start', () => {
  let db: TestPostgres;
  let app: StartedApp;

  before(
    async () => {
      db = await startTestPostgres();
      // No scheduler: the jobs Schemathesis creates (http jobs to made-up URLs among them) must never run.
      app = await startApp({ databaseUrl: db.url, env: { SCHEDULER_DISABLED: '1' } });
    },
    { timeout: 120_000 },
  );

  after(
    async () => {
      await app?.stop();
      await db?.stop();
    },
    { timeout: 30_000 },
  );

  test('all default checks, every operation but the event stream: no failure', { timeout: SCHEMATHESIS_TIMEOUT_MS + 30_000 }, async () => {
    const schemathesis = join(VENV_BIN, 'schemathesis');
    assert.ok(existsSync(schemathesis), `no ${schemathesis}: ${PREREQS}`);
    // The document as the app serves it.
    const served = await fetch(`${app.baseUrl}/api/openapi.json`, { headers: { authorization: `Bearer ${app.apiToken}` } });
    assert.equal(served.status, 200);
    const file = join(work, 'served-openapi.json');
    writeFileSync(file, await served.text());
    const args = [
      // Per-operation settings (tools/api-check/schemathesis.toml): the statuses the document gives a meaning beyond the
      // defaults (a test alert the channel refused is a 502).
      `--config-file=${join(ROOT, 'tools', 'api-check', 'schemathesis.toml')}`,
      'run',
      file,
      `--url=${app.baseUrl}`,
      // The admin token of the app's environment (API_TOKEN): no route can revoke or demote it, so whatever the
      // stateful phase deletes or changes, every request is still made as an admin.
      `--header=Authorization: Bearer ${app.apiToken}`,
      // GET /api/events is an endless server-sent event stream: a request to it never completes, so no check can judge
      // its answer. tests/api/api.test.ts covers it.
      '--exclude-path=/api/events',
      `--max-examples=${MAX_EXAMPLES}`,
      `--seed=${SEED}`,
      '--workers=2',
      '--request-timeout=20',
      '--generation-database=none',
      '--no-color',
    ];
    const ran = await run(schemathesis, args, {
      // The strategies of the document's custom formats (tag, cron, time-zone, paging-cursor, date-or-date-time) and the
      // one rule across two fields JSON Schema cannot state (retry.maxBackoffSeconds >= backoffSeconds).
      env: { SCHEMATHESIS_HOOKS: join(ROOT, 'tools', 'api-check', 'hooks.py') },
      timeoutMs: SCHEMATHESIS_TIMEOUT_MS,
      cwd: work,
    });
    const command = `schemathesis ${args.map((a) => (a.startsWith('--header=') ? '--header=Authorization: Bearer <API_TOKEN>' : a)).join(' ')}`;
    assert.ok(
      !ran.timedOut && ran.code === 0,
      `${command} ${ran.timedOut ? 'timed out' : `exited ${ran.code ?? ran.signal}`}:\n${ran.output}\n--- app log (tail) ---\n${app.logs().slice(-4000)}`,
    );
    // The phases with their times, and the closing summary, for the test log.
    const lines = ran.output.split('\n');
    console.log([...lines.filter((line) => /\(in [\d.]+s\)|passed|failed/.test(line)), ...lines.slice(-4)].join('\n'));
  });
});
