#!/usr/bin/env bash
# One command: set everything up and run the example dual-engine pipeline through Airflow
# (dag.test) on an embedded DuckDB file, then print a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/dualengine demo transforms --dags-folder dags --home .demo "$@"
