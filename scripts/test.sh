#!/usr/bin/env bash
# One command: set everything up and run the whole test suite (unit, static, integration, e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The PostgreSQL tests start a private server from the PostgreSQL 15 binaries.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing the PostgreSQL 15 server binaries for the PostgreSQL tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
  else
    echo "error: PostgreSQL server binaries (initdb) not found; install postgresql-15" >&2
    exit 1
  fi
fi
# The cluster tests (tests/e2e/on_cluster/) run Redis as the Celery broker.
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing redis-server for the cluster test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "error: redis-server not found; install it (apt-get install redis-server)" >&2
    exit 1
  fi
fi
# The HTML report is checked in headless Chromium (tests/integration/test_report_browser.py).
bash scripts/install_chromium.sh
exec .venv/bin/python -m pytest "$@"
