#!/usr/bin/env bash
# Create .venv (if missing) and install transformer-mt into it.
#   scripts/setup.sh            # the project
#   scripts/setup.sh test       # the project with its test tools
# torch is installed first, pinned: on CPU-only machines torch==2.13.0 is the CPU build, while an
# unpinned "torch" requirement could pull a multi-GB CUDA build. Set TORCH_SPEC to choose another.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python_bin="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python_bin" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install --quiet --disable-pip-version-check "${TORCH_SPEC:-torch==2.13.0}"
if [ -n "$extras" ]; then
  python -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
else
  python -m pip install --quiet --disable-pip-version-check -e .
fi
