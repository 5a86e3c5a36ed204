#!/usr/bin/env bash
# `npm test`: everything, in order: prerequisites, typecheck, build, unit + integration (real
# PostgreSQL and the MongoDB-wire test server, started here when none is given), then Playwright.
# Prints one closing line "tests: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1

step() { printf '\n== %s ==\n' "$*"; }

step "prerequisites"
bash scripts/prereqs.sh postgres chromium java node python
if [ -d tools/mongo-test-server ] && [ -z "${MONGODB_URL:-}" ]; then
  step "MongoDB-wire test server (build)"
  bash tools/mongo-test-server/build.sh
fi

step "prisma generate"
npm run -s prisma:generate >/dev/null

step "typecheck"
npx tsc --noEmit -p .

step "lint (ESLint) and format (Prettier)"
npx eslint .
npx prettier --check . >/dev/null || { npx prettier --list-different .; echo "prettier: run npm run format" >&2; exit 1; }
echo "lint and format clean"

step "dependency rules (layers, no cycles)"
npm run -s deps

step "build"
npx next build >/dev/null
echo "built .next"

results=.test-results
rm -rf "$results" && mkdir -p "$results"
status=0

step "unit and integration tests (node:test)"
mapfile -t files < <(find tests -name '*.test.ts' | sort)
node --conditions=react-server --import tsx --test --test-concurrency="${TEST_CONCURRENCY:-2}" \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$results/node.tap" \
  "${files[@]}" || status=1

step "end-to-end tests (Playwright, Chromium)"
# The harness imports server-only modules (the test database, the app launcher).
# It reuses the build above instead of making its own.
E2E_DIST_DIR=.next E2E_SKIP_BUILD=1 NODE_OPTIONS=--conditions=react-server PLAYWRIGHT_JSON_OUTPUT_NAME="$results/e2e.json" \
  npx playwright test --reporter=list,json || status=1

node scripts/test-summary.mjs "$results" || status=1
exit "$status"
