"""Entry point: python -m inbetweening.main --config=configs/kth.py --workdir=DIR [--mode=...].

Modes: train (default) trains (resuming from DIR's checkpoints) and writes results into
--workdir; eval evaluates DIR's best checkpoint with the paper's protocol and writes
DIR/eval/results.json and results.md; summary prints the parameters per module and the
FLOPs of one train step, and writes DIR/summary.json.
Config values are overridden with --config.FIELD=VALUE (e.g. --config.model.variant=naive).
Multi-process (one process per host): --coordinator_address=HOST:PORT --num_processes=N
--process_id=I on each, or --distributed_from_env under SLURM / on Cloud TPU VMs (see
inbetweening/runtime/distributed.py and launch/).
"""

import sys
import uuid

import jax
from absl import app, flags, logging
from ml_collections import config_flags

from inbetweening import evaluate
from inbetweening.api import CheckpointNotFoundError
from inbetweening.config.validation import ConfigError
from inbetweening.data.errors import DatasetError
from inbetweening.runtime import command_line, compilation_cache, distributed
from inbetweening.runtime.command_line import user_error
from inbetweening.storage.paths import is_remote, user_path
from inbetweening.tools import summary
from inbetweening.training import progress, train
from inbetweening.training.checkpoints import CheckpointMismatchError, CheckpointReadError

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file(
    "config", None, "Path to a config file (configs/*.py).", lock_config=True
)
flags.DEFINE_string("workdir", None, "Directory for TensorBoard events, samples, results.")
flags.DEFINE_enum("mode", "train", ["train", "eval", "summary"], "What to do.")
flags.mark_flags_as_required(["config", "workdir"])
distributed.define_flags()
compilation_cache.define_flags()


class WorkdirError(ValueError):
    """--workdir cannot be written."""


# Errors caused by what the user asked for: reported in one line, exit code 2.
USER_ERRORS = (
    ConfigError,
    DatasetError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    CheckpointReadError,
    distributed.DistributedFlagsError,
    WorkdirError,
)


def check_workdir_writable(workdir: str) -> None:
    """Creates --workdir (a local one; object stores have no directories) and writes and
    removes a file there, so that a run fails at start-up rather than at its first
    checkpoint: a full or read-only disk, no such bucket, no permission."""
    probe = user_path(workdir) / f".writable-{uuid.uuid4().hex}"
    try:
        if not is_remote(workdir):
            probe.parent.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except Exception as error:  # noqa: BLE001 (every filesystem raises its own types)
        reason = getattr(error, "strerror", None) or str(error).splitlines()[0][:300]
        raise WorkdirError(
            f"--workdir={workdir}: cannot write there ({reason}); "
            "choose a directory you can write to"
        ) from None


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        # Before any other JAX call: the first one fixes the device list.
        distributed.initialize(FLAGS)
        compilation_cache.enable(FLAGS.compilation_cache_dir)
        logging.info("JAX devices: %s", jax.devices())
        if FLAGS.mode != "eval":  # eval reads a work directory that exists
            check_workdir_writable(FLAGS.workdir)
        if FLAGS.mode == "summary":
            summary.write_summary(FLAGS.config, FLAGS.workdir)
        elif FLAGS.mode == "eval":
            if jax.process_count() > 1:
                raise distributed.DistributedFlagsError(
                    "--mode=eval runs in one process (its bootstrap intervals need every "
                    "test video in one place): start it without the distributed flags"
                )
            overrides = config_flags.get_override_values(FLAGS["config"])
            evaluate.run(FLAGS.config, FLAGS.workdir, overrides)
        else:
            train.train_and_evaluate(FLAGS.config, FLAGS.workdir)
    except USER_ERRORS as error:
        sys.exit(user_error(str(error)))
    except progress.NonFiniteLossError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


def cli() -> None:
    """Console-script entry point (setup.cfg); also `python -m inbetweening.main`."""
    command_line.run(main)


if __name__ == "__main__":
    cli()
