#!/bin/bash
# Training on one GPU of this machine: launch/gpu_single.sh --config=configs/kth.py
#   --workdir=DIR [--gpu=INDEX (default 0)] [--dry_run] [FLAG...]
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/_args.sh
parse_args "[--gpu=INDEX] " "$@"
take_option gpu GPU 0
run env CUDA_VISIBLE_DEVICES="$GPU" "$PYTHON" -m inbetweening.main --config="$CONFIG" \
  --workdir="$WORKDIR" ${EXTRA_FLAGS[@]+"${EXTRA_FLAGS[@]}"}
