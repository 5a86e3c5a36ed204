#!/usr/bin/env bash
# README's first command (`npm run demo`): from a fresh clone to a running dashboard on the
# embedded default (a private PostgreSQL cluster under .data/), with a few example jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1
# Exported: instrumentation.ts points the example self-health-check job at this port.
export PORT="${PORT:-3000}"
bash scripts/prereqs.sh postgres node
# Quiet unless it fails (prisma prints its config banner on every run).
if ! out="$(npm run -s prisma:generate 2>&1)"; then echo "$out" >&2; exit 1; fi
# Rebuild only when a source file is newer than the last build (lib/generated is rewritten by every generate).
if [ ! -f .next/BUILD_ID ] || [ -n "$(find app lib instrumentation.ts proxy.ts next.config.mjs tsconfig.json package-lock.json prisma \
    -path lib/generated -prune -o -newer .next/BUILD_ID -print -quit 2>/dev/null)" ]; then
  echo "cronplane: building (about a minute the first time)"
  npx next build >/dev/null
fi
if [ -f "${CRONPLANE_DATA_DIR:-.data}/credentials.json" ]; then
  echo "cronplane: admin password and API token: see ${CRONPLANE_DATA_DIR:-.data}/credentials.json (printed at first start)"
fi
echo "cronplane: starting on http://127.0.0.1:${PORT} (Ctrl-C to stop)"
export CRONPLANE_EXAMPLE_JOBS="${CRONPLANE_EXAMPLE_JOBS:-1}"
# The example "self-health-check" job calls this dashboard itself; the SSRF guard needs it allowed (also when
# HTTP_JOB_ALLOW is set for other targets: start-up would otherwise refuse to create that example).
if [ "$CRONPLANE_EXAMPLE_JOBS" = "1" ]; then
  case ",${HTTP_JOB_ALLOW:-}," in
    *",127.0.0.1:${PORT},"*) ;;
    *) export HTTP_JOB_ALLOW="${HTTP_JOB_ALLOW:+${HTTP_JOB_ALLOW},}127.0.0.1:${PORT}" ;;
  esac
fi
exec node_modules/.bin/next start -H 127.0.0.1 -p "$PORT"
