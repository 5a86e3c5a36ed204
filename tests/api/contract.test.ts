/**
 * The API contract, checked by tools we did not write (README "API contract"):
 * - the OpenAPI document passes openapi-spec-validator (PyPI) and Redocly's `lint` with its recommended rules (npm
 *   @redocly/cli), both exit 0;
 * - Schemathesis (PyPI) runs against a real `next start` (the build in NEXT_DIST_DIR, a fresh PostgreSQL, the scheduler
 *   off so no job it creates ever runs) with all its default checks, bounded, and reports no failure.
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
