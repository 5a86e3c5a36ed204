#!/usr/bin/env bash
# Installs the system packages Cronplane needs when they are missing (Debian/Ubuntu, as root),
# the node modules when package-lock.json is newer than node_modules, and the Python virtualenvs (from PyPI) of the
# example FastAPI receiver and of the API contract tools when missing or older than their requirements.txt.
# Usage: scripts/prereqs.sh [postgres] [chromium] [java] [node] [python]
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=0
apt_install() {
  if [ "$(id -u)" != "0" ]; then
    echo "cronplane: missing system package(s): $* -- install them (e.g. sudo apt-get install -y $*) and rerun" >&2
    exit 1
  fi
  if [ "$apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }

# As root, the embedded cluster runs as "postgres" (PostgreSQL refuses root), which must be able to reach
# .data/ in this checkout (or CRONPLANE_DATA_DIR). A checkout under /root or in a `mktemp -d` directory (mode 700) is out of its
# reach: grant that one account search-only access (an ACL, no listing) on the directories in the way.
let_postgres_reach() {
  local target="$1" dir="" rest="${1#/}"
  while [ -n "$rest" ]; do
    dir="$dir/${rest%%/*}"
    [[ "$rest" == */* ]] && rest="${rest#*/}" || rest=""
    runuser -u postgres -- test -x "$dir" 2>/dev/null && continue
    command -v setfacl >/dev/null || { echo "cronplane: installing acl (setfacl)"; apt_install acl; }
    echo "cronplane: PostgreSQL runs as the user postgres, which cannot enter $dir: setfacl -m u:postgres:x $dir (search only, no listing)"
    if ! setfacl -m u:postgres:x "$dir" || ! runuser -u postgres -- test -x "$dir"; then
      echo "cronplane: could not let the postgres user reach $target: clone Cronplane where it can (e.g. under /srv or /opt), or set DATABASE_URL to your own PostgreSQL" >&2
      exit 1
    fi
  done
}

# A virtualenv at DIR/.venv from DIR/requirements.txt (pinned, from PyPI), made when missing, when requirements.txt is
# newer, or when the check (Python code) fails. The marker is written last: an interrupted install is redone, and so
# is a venv whose Python went away.
python_venv() {
  local dir="$1" check="$2" venv="$1/.venv"
  if [ ! -f "$venv/.installed" ] || [ "$dir/requirements.txt" -nt "$venv/.installed" ] ||
    ! "$venv/bin/python" -c "$check" 2>/dev/null; then
    echo "cronplane: creating $venv (pip install -r $dir/requirements.txt, from PyPI)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$dir/requirements.txt"
    touch "$venv/.installed"
  fi
}

for what in "$@"; do
  case "$what" in
    postgres)
      have_postgres || { echo "cronplane: installing PostgreSQL server binaries"; apt_install postgresql; }
      # A root-run app or test starts PostgreSQL as this unprivileged user.
      if [ "$(id -u)" = "0" ]; then
        id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
        # Only the embedded default keeps its cluster in the checkout.
        if [ -z "${DATABASE_URL:-}" ]; then
          data_dir="${CRONPLANE_DATA_DIR:-.data}"
          mkdir -p "$data_dir" && let_postgres_reach "$(cd "$data_dir" && pwd)"
        fi
      fi
      ;;
    chromium)
      [ -x /usr/bin/chromium ] || { echo "cronplane: installing Chromium"; apt_install chromium; }
      ;;
    java)
      { command -v java >/dev/null && command -v mvn >/dev/null; } || { echo "cronplane: installing Java and Maven"; apt_install default-jdk-headless maven; }
      ;;
    node)
      if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        echo "cronplane: installing node modules (npm ci)"
        npm ci --no-audit --no-fund
      fi
      ;;
    python)
      # Debian ships venv's pip bootstrap (ensurepip) in python3-venv.
      if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        echo "cronplane: installing Python's venv module (python3-venv)"
        apt_install python3 python3-venv
      fi
      # examples/fastapi-receiver under uvicorn --workers 4, which the receiver tests start.
      python_venv examples/fastapi-receiver 'import fastapi, standardwebhooks, uvicorn'
      # The API contract tools (Schemathesis, openapi-spec-validator), which tests/api/contract.test.ts runs.
      python_venv tools/api-check 'import schemathesis, openapi_spec_validator'
      ;;
    *) echo "prereqs.sh: unknown prerequisite $what" >&2; exit 2 ;;
  esac
done
