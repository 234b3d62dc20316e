#!/usr/bin/env bash
# Set up (.venv with the test extras) and run the checks: ruff lint, ruff format, the import
# layers (lint-imports, contracts in pyproject.toml), pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
# shellcheck disable=SC1091
. .venv/bin/activate
ruff check src tests benchmarks
ruff format --check src tests benchmarks
lint-imports
python -m pytest "$@"
