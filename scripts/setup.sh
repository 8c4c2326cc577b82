#!/usr/bin/env bash
# Create .venv with Python 3.11 and install the provider with its test extras.
# Re-running is cheap: the install is skipped while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "error: $PYTHON not found; install Python 3.11 or set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.dualengine-installed
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "==> installing airflow-provider-dualengine and its dependencies (about a minute)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  # compat editable mode puts the checkout on sys.path: dbt finds its plugins by listing
  # top-level dbt_* modules, which the default editable finder hides (dbt_dualengine).
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test,postgres]" --config-settings editable_mode=compat
  echo "$want" > "$stamp"
fi
export SQLMESH__DISABLE_ANONYMIZED_ANALYTICS=1
