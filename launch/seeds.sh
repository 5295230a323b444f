#!/bin/bash
# The paper's protocol over training runs (Section 4.1): N seeds of one config, trained and
# evaluated one after another on this machine (each on all its GPUs, as gpu_host.sh), then
# combined into Tables 1-3 by inbetweening.eval.aggregate:
#   launch/seeds.sh --config=configs/kth.py --workdir=DIR [--num_seeds=10] [--dry_run] [FLAG...]
# Seed s trains in DIR/seed_s with --config.seed=s; the tables go to DIR/aggregate.{json,md}.
# FLAGs go to every training and evaluation command. On a cluster, print the commands
# with --dry_run and submit each training line with the launcher of your choice.
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/_args.sh
parse_args "[--num_seeds=N] " "$@"
take_option num_seeds NUM_SEEDS 10
if ! [[ "$NUM_SEEDS" =~ ^[1-9][0-9]*$ ]]; then
  echo "--num_seeds=$NUM_SEEDS: must be a positive integer" >&2
  exit 2
fi

# Runs "$@" (stopping at the first failure), or with --dry_run prints it.
step() {
  if (( DRY_RUN )); then
    local quoted
    printf -v quoted '%q ' "$@"
    echo "${quoted% }"
  else
    "$@"
  fi
}

RUN_DIRS=()
for (( seed = 0; seed < NUM_SEEDS; seed++ )); do
  RUN_DIR="$WORKDIR/seed_$seed"
  RUN_DIRS+=("$RUN_DIR")
  for mode in train eval; do
    step "$PYTHON" -m inbetweening.main --config="$CONFIG" --workdir="$RUN_DIR" \
      --mode="$mode" --config.seed="$seed" ${EXTRA_FLAGS[@]+"${EXTRA_FLAGS[@]}"}
  done
done
step "$PYTHON" -m inbetweening.eval.aggregate "${RUN_DIRS[@]}" --out="$WORKDIR/aggregate"
