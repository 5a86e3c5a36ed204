#!/usr/bin/env bash
# Installs the system packages Cronplane needs when they are missing (Debian/Ubuntu, as root),
# and the node modules when package-lock.json is newer than node_modules.
# Usage: scripts/prereqs.sh [postgres] [chromium] [java] [node]
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

for what in "$@"; do
  case "$what" in
    postgres)
      have_postgres || { echo "cronplane: installing PostgreSQL server binaries"; apt_install postgresql; }
      # A root-run app or test starts PostgreSQL as this unprivileged user.
      if [ "$(id -u)" = "0" ] && ! id postgres >/dev/null 2>&1; then useradd --system --home /var/lib/postgresql postgres; fi
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
    *) echo "prereqs.sh: unknown prerequisite $what" >&2; exit 2 ;;
  esac
done
