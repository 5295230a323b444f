#!/bin/bash
# What only an accelerator can show, in one command (under 9 minutes on one GPU):
#   launch/device_check.sh --out=DIR [--dry_run]
# 1. the tests of the device-dependent code (both convolution forms, bfloat16, the
#    equations) on the accelerator: DIR/tests.txt;
# 2. steps/s of the paper's config (configs/bair.py) at batch 32 with XLA's convolutions,
#    float32 then bfloat16: DIR/train_step_float32.json, DIR/train_step_bfloat16.json;
# 3. configs/demo.py trained for DEMO_SECONDS (300), with the held-out table every 1,000
#    steps: DIR/demo/ (metrics.json holds the curve so far), DIR/curve.png;
# then DIR/device_check.json gathers them. Nothing needs flags to run on the accelerator:
# jax picks it, and the configs' conv_impl "auto" picks XLA's convolutions there.
# PYTHON: the interpreter (default .venv/bin/python; `make test ACCEL=cuda12` builds it).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
DEMO_SECONDS="${DEMO_SECONDS:-300}"
DRY_RUN=0
OUTPUT=""
for arg in "$@"; do
  case "$arg" in
    --dry_run) DRY_RUN=1 ;;
    --out=*) OUTPUT="${arg#--out=}" ;;
    --output=*)  # the old name, kept for one release
      echo "warning: --output is now --out" >&2
      OUTPUT="${arg#--output=}" ;;
    *) echo "usage: $(basename "$0") --out=DIR [--dry_run]" >&2; exit 2 ;;
  esac
done
if [[ -z "$OUTPUT" ]]; then
  echo "usage: $(basename "$0") --out=DIR [--dry_run]" >&2
  exit 2
fi

# Runs "$@" with stdout to the file $1, or with --dry_run prints "$@ > $1".
step() {
  local out="$1"
  shift
  if (( DRY_RUN )); then
    local quoted
    printf -v quoted '%q ' "$@"
    echo "${quoted% } > $out"
  else
    "$@" > "$out"
  fi
}

(( DRY_RUN )) || mkdir -p "$OUTPUT"
# The test suite simulates 8 CPU devices unless told otherwise: JAX_PLATFORMS="" lets jax
# take the accelerator.
step "$OUTPUT/tests.txt" env JAX_PLATFORMS= XLA_FLAGS= "$PYTHON" -m pytest -q \
  tests/test_layers.py tests/test_mixed_precision.py tests/test_equations.py
for dtype in float32 bfloat16; do
  step "$OUTPUT/train_step_$dtype.json" env PYTHONPATH=. "$PYTHON" benchmarks/train_step.py \
    --config=configs/bair.py --config.batch_size=32 --config.model.conv_impl=xla \
    --config.model.compute_dtype="$dtype" --repeats=10
done
# Stopped after DEMO_SECONDS: metrics.json has the held-out curve up to the last sample step.
step "$OUTPUT/demo.txt" timeout "$DEMO_SECONDS" "$PYTHON" -m inbetweening.main \
  --config=configs/demo.py --workdir="$OUTPUT/demo" --config.num_train_steps=1000000 \
  --config.sample_every_steps=1000 --config.checkpoint_every_steps=1000 \
  --config.log_every_steps=200
step "$OUTPUT/curves.txt" "$PYTHON" -m inbetweening.tools.curves "$OUTPUT/demo" \
  --out="$OUTPUT/curve.png"
step "$OUTPUT/device_check.json" "$PYTHON" launch/device_check_summary.py "$OUTPUT"
