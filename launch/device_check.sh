#!/bin/bash
# What only an accelerator can show, in one command (~8-10 minutes on an H200):
#   launch/device_check.sh --out=DIR [--dry_run]
# 1. the tests of the device-dependent code (both convolution forms, bfloat16, the
#    equations) on the accelerator: DIR/tests.txt;
# 2. steps/s of the paper's config (configs/bair.py) at batch 32 with XLA's convolutions,
#    float32 then bfloat16: DIR/train_step_float32.json, DIR/train_step_bfloat16.json;
# 3. the training loop's host time per step around a stand-in step, and its inputs'
#    clips/s (benchmarks/host_time.py, the paper's batch): DIR/host_time.json; the same
#    loop taking 4 steps a call (config.steps_per_call), data in memory:
#    DIR/host_time_4_per_call.json;
# 4. the evaluation protocol on a full test split (3,783 clips, 4 generations, the paper's
#    generator, FVD with I3D), memory and seconds, then generation's scaling over 1-8
#    simulated CPU devices (benchmarks/full_split_eval.py): DIR/full_split_eval.json;
# 5. configs/demo.py trained for DEMO_SECONDS (120), with the held-out table every 1,000
#    steps: DIR/demo/ (metrics.json holds the curve so far), DIR/curve.png;
# then DIR/device_check.json gathers them. Nothing needs flags to run on the accelerator:
# jax picks it, and the configs' conv_impl "auto" picks XLA's convolutions there.
# Time, measured on an H200 (2026-12-04, docs/experiments.md): tests 115 s; the two
# train-step benchmarks ~60 s and ~100 s (before the error fixed since in tools/summary.py);
# host_time 5 s without TensorFlow (the BAIR fixture needs it) and 11 s at 4 steps a call;
# full_split_eval 94 s (generation 15 s, I3D 41 s); the demo compiles for ~35 s, then runs
# 44 steps/s (a held-out table every ~23 s): ~9 min in all with DEMO_SECONDS=120 (~10 at
# 180), which leaves a 15-minute lease its machine's start-up and the transfers.
# PYTHON: the interpreter (default .venv/bin/python; `make test ACCEL=cuda12` builds it).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
DEMO_SECONDS="${DEMO_SECONDS:-120}"
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
step "$OUTPUT/host_time.json" env PYTHONPATH=. "$PYTHON" benchmarks/host_time.py --steps=300
step "$OUTPUT/host_time_4_per_call.json" env PYTHONPATH=. "$PYTHON" benchmarks/host_time.py \
  --steps=300 --inputs=none --config.steps_per_call=4
step "$OUTPUT/full_split_eval.json" env PYTHONPATH=. "$PYTHON" benchmarks/full_split_eval.py \
  --num_clips=3783 --num_generations=4 --width=0 --fvd --scaling_devices=1,2,4,8
# Stopped after DEMO_SECONDS: metrics.json has the held-out curve up to the last sample step.
step "$OUTPUT/demo.txt" timeout "$DEMO_SECONDS" "$PYTHON" -m inbetweening.main \
  --config=configs/demo.py --workdir="$OUTPUT/demo" --config.num_train_steps=1000000 \
  --config.sample_every_steps=1000 --config.checkpoint_every_steps=1000 \
  --config.log_every_steps=200
step "$OUTPUT/curves.txt" "$PYTHON" -m inbetweening.tools.curves "$OUTPUT/demo" \
  --out="$OUTPUT/curve.png"
step "$OUTPUT/device_check.json" "$PYTHON" launch/device_check_summary.py "$OUTPUT"
