# Sourced by the launch scripts. Usage of each:
#   SCRIPT --config=PATH --workdir=DIR [--dry_run] [FLAG...]
# FLAGs go to inbetweening.main unchanged (e.g. --config.model.compute_dtype=bfloat16).
# With --dry_run the script prints the command it would run, shell-quoted, and exits.
# PYTHON: the interpreter (default .venv/bin/python, as `make` creates it).

PYTHON="${PYTHON:-.venv/bin/python}"
DRY_RUN=0
CONFIG=""
WORKDIR=""
EXTRA_FLAGS=()

# $1: the script's own options besides the common ones, for the usage line.
# Unrecognised arguments land in EXTRA_FLAGS; scripts with options of their own take
# them out of EXTRA_FLAGS afterwards.
parse_args() {
  local usage="usage: $(basename "$0") --config=PATH --workdir=DIR $1[--dry_run] [FLAG...]"
  shift
  local arg
  for arg in "$@"; do
    case "$arg" in
      --dry_run) DRY_RUN=1 ;;
      --config=*) CONFIG="${arg#--config=}" ;;
      --workdir=*) WORKDIR="${arg#--workdir=}" ;;
      -h|--help) echo "$usage"; exit 0 ;;
      *) EXTRA_FLAGS+=("$arg") ;;
    esac
  done
  if [[ -z "$CONFIG" || -z "$WORKDIR" ]]; then
    echo "$usage" >&2
    exit 2
  fi
}

# Runs "$@", or with --dry_run prints it as one shell-quoted line.
run() {
  if (( DRY_RUN )); then
    local quoted
    printf -v quoted '%q ' "$@"
    echo "${quoted% }"
  else
    exec "$@"
  fi
}

# take_option NAME VARIABLE DEFAULT: sets VARIABLE to the value of --NAME=VALUE among
# EXTRA_FLAGS (DEFAULT when absent) and takes that flag out of EXTRA_FLAGS.
take_option() {
  local name="$1" variable="$2" value="$3" flag
  local kept=()
  for flag in ${EXTRA_FLAGS[@]+"${EXTRA_FLAGS[@]}"}; do
    case "$flag" in
      "--$name="*) value="${flag#--"$name"=}" ;;
      *) kept+=("$flag") ;;
    esac
  done
  EXTRA_FLAGS=(${kept[@]+"${kept[@]}"})
  printf -v "$variable" '%s' "$value"
}
