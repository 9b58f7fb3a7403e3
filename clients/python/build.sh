#!/usr/bin/env bash
# Builds the Python client, idempotently:
#   1. creates clients/python/.venv (python3 -m venv) when it is missing or broken;
#   2. installs the package editable with the dev extra, only when pyproject.toml
#      changed (a stamp file in .venv remembers its hash);
#   3. generates the gRPC stubs from proto/ into src/mlbridge/_proto/.
# Environment: PYTHON (default python3) picks the interpreter of a new venv.
set -euo pipefail
cd "$(dirname "$0")"

say() { printf 'python-client: %s\n' "$*" >&2; }

if ! .venv/bin/python -c 'import sys' >/dev/null 2>&1; then
  say "creating .venv with ${PYTHON:-python3}"
  rm -rf .venv
  "${PYTHON:-python3}" -m venv .venv
fi

stamp=.venv/.mlbridge-pyproject.sha256
want=$( (sha256sum pyproject.toml; .venv/bin/python -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing the package and its dev dependencies into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-input -e '.[dev]'
  echo "$want" > "$stamp"
fi

.venv/bin/python scripts/gen_stubs.py
