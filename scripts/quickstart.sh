#!/usr/bin/env bash
# The main job: set up, train the quick-start English->Chinese model on the built-in data
# (about 20 minutes on 2 CPU cores), evaluate it on the test split, and translate a few sentences.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# shellcheck disable=SC1091
. .venv/bin/activate
run_dir="${RUN_DIR:-runs/quickstart}"
transformer-mt train configs/quickstart.yaml --set "run_dir=$run_dir" --overwrite "$@"
transformer-mt evaluate "$run_dir" --split test --beam-size 4
printf '%s\n' "Hello world" "I like to drink tea." "Where is the train station?" \
  "The weather is nice today, let's go for a walk." |
  tee /dev/stderr | transformer-mt translate "$run_dir" --beam-size 4
