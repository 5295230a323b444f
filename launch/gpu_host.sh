#!/bin/bash
# Training on every GPU of this machine, one process (data parallel over its devices;
# config.batch_size is global and must be a multiple of the GPU count):
#   launch/gpu_host.sh --config=configs/kth.py --workdir=DIR [--dry_run] [FLAG...]
# Restrict the GPUs with CUDA_VISIBLE_DEVICES in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/_args.sh
parse_args "" "$@"
run "$PYTHON" -m inbetweening.main --config="$CONFIG" --workdir="$WORKDIR" \
  ${EXTRA_FLAGS[@]+"${EXTRA_FLAGS[@]}"}
