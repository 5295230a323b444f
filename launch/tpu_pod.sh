#!/bin/bash
# Training on a Cloud TPU pod slice: the same command on every worker VM over
# `gcloud compute tpus tpu-vm ssh --worker=all`; JAX finds the other workers itself
# (--distributed_from_env). The repository must be at REPO_DIR (default ~/inbetweening)
# on every worker, with PYTHON there; the work directory should be gs://... (all workers
# write checkpoints together):
#   launch/tpu_pod.sh --tpu=NAME --zone=ZONE [--project=ID] --config=configs/kth.py
#     --workdir=gs://BUCKET/DIR [--dry_run] [FLAG...]
set -euo pipefail
cd "$(dirname "$0")/.."
source launch/_args.sh
parse_args "--tpu=NAME --zone=ZONE [--project=ID] " "$@"
take_option tpu TPU ""
take_option zone ZONE ""
take_option project PROJECT ""
GCLOUD_FLAGS=(--zone="$ZONE")
if [[ -n "$PROJECT" ]]; then
  GCLOUD_FLAGS+=(--project="$PROJECT")
fi
if [[ -z "$TPU" || -z "$ZONE" ]]; then
  echo "$(basename "$0"): --tpu=NAME and --zone=ZONE are required" >&2
  exit 2
fi
printf -v TRAIN '%q ' "$PYTHON" -m inbetweening.main --config="$CONFIG" \
  --workdir="$WORKDIR" --distributed_from_env ${EXTRA_FLAGS[@]+"${EXTRA_FLAGS[@]}"}
run gcloud compute tpus tpu-vm ssh "$TPU" "${GCLOUD_FLAGS[@]}" --worker=all \
  --command="cd ${REPO_DIR:-inbetweening} && ${TRAIN% }"
