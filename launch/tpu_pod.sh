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
TPU=""
ZONE=""
GCLOUD_FLAGS=()
FLAGS=()
for flag in ${EXTRA_FLAGS[@]+"${EXTRA_FLAGS[@]}"}; do
  case "$flag" in
    --tpu=*) TPU="${flag#--tpu=}" ;;
    --zone=*) ZONE="${flag#--zone=}"; GCLOUD_FLAGS+=("$flag") ;;
    --project=*) GCLOUD_FLAGS+=("$flag") ;;
    *) FLAGS+=("$flag") ;;
  esac
done
if [[ -z "$TPU" || -z "$ZONE" ]]; then
  echo "$(basename "$0"): --tpu=NAME and --zone=ZONE are required" >&2
  exit 2
fi
printf -v TRAIN '%q ' "$PYTHON" -m inbetweening.main --config="$CONFIG" \
  --workdir="$WORKDIR" --distributed_from_env ${FLAGS[@]+"${FLAGS[@]}"}
run gcloud compute tpus tpu-vm ssh "$TPU" "${GCLOUD_FLAGS[@]}" --worker=all \
  --command="cd ${REPO_DIR:-inbetweening} && ${TRAIN% }"
