"""Test-session setup: 8 simulated CPU devices, so sharding is exercised on any machine."""

import os
import types

import xla_test_flags

# Must happen before jax is imported anywhere in the test session.
os.environ.setdefault("XLA_FLAGS", xla_test_flags.with_devices(8))
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# The tests compare computations to float32 rounding. On GPUs XLA multiplies float32 in
# TF32 by default (10-bit mantissas): on an H200, 18 of launch/device_check.sh's 44 tests
# missed 1e-5 by ~5e-3 (2026-12-04). Training keeps the default; on CPUs nothing changes.
os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")
# One persistent compilation cache for the session and the processes it starts: tests in
# different processes that compile the same program (the tiny train step, the sampler)
# compile it once. Under .pytest_cache, so local reruns start warm; CI starts cold.
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR",
    os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        ".pytest_cache",
        "jax_compilation_cache",
    ),
)

import pytest  # noqa: E402 (after the environment JAX reads at import)
from once import made_once  # noqa: E402

from inbetweening.runtime.command_line import freeze_start_up_heap  # noqa: E402

# The command lines' garbage collector (command_line.run) for the tests that trace programs
# in process: from here, through the test modules' imports (TensorFlow's among them), and
# again once they are collected (pytest_collection_finish).
freeze_start_up_heap()

# The files that take longest (training runs in subprocesses, train steps compiled), in
# that order, first: `make test` hands whole files to its workers in collection order (its
# --no-loadscope-reorder), and one of these started late would run alone at the end, where
# the files of a few seconds fill in.
LONGEST_FIRST = (
    "test_remote_storage.py",
    "test_training_run.py",
    "test_train.py",
    "test_distributed.py",
    "test_export.py",
    "test_paper_step.py",
    "test_probe.py",
    "test_mixed_precision.py",
    "test_sample.py",
    "test_model_details.py",
    "test_packaging.py",
    "test_eval_fvd.py",
    "test_models.py",
    "test_tfds_input.py",
    "test_latent_block_migration.py",
)


def pytest_collection_modifyitems(items):
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def pytest_collection_finish(session):
    """Collected, the libraries and the test modules are alive to the end."""
    freeze_start_up_heap()


def save_untrained_tiny_checkpoint(workdir) -> None:
    """One checkpoint (step 1) of the untrained tiny model in `workdir`."""
    from inbetweening.models import create_models
    from inbetweening.training.checkpoints import TrainingCheckpoints

    import tiny_setup

    config = tiny_setup.tiny_config(4)
    state = tiny_setup.initial_state(config, create_models(config.model))
    checkpoints = TrainingCheckpoints(str(workdir), keep=1)
    checkpoints.save(1, state, config)
    checkpoints.wait_until_finished()
    checkpoints.close()


@pytest.fixture(scope="session")
def tiny_workdir(tmp_path_factory):
    """A work directory holding one checkpoint (step 1) of the untrained tiny model, made
    once per session (tests/once.py); tests only read it."""
    return str(made_once(tmp_path_factory, "tiny_workdir", save_untrained_tiny_checkpoint))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_workdir):
    """The session's one tiny training run through the command line, made by the first
    worker that asks (tests/once.py): command_lines.checkpointed_training_command's 8 steps,
    checkpoints every 2 (4, 6 and 8 kept), with the sample grid and the held-out metric at
    steps 4 and 8 and `tiny_workdir` as a reference model. Read by tests/test_training_run.py,
    and by tests/test_remote_storage.py as the unbroken run that a run killed on gs:// must
    end equal to. Copy it before changing anything."""
    from command_lines import checkpointed_training_command, compiled_once, run_training

    def make(directory):
        with compiled_once():
            result = run_training(
                checkpointed_training_command(
                    directory / "run",
                    "--config.sample_every_steps=4",
                    f"--config.eval.reference_models=('{tiny_workdir}',)",
                )
            )
        (directory / "stdout.txt").write_text(result.stdout)
        (directory / "stderr.txt").write_text(result.stderr)
        assert result.returncode == 0, result.stderr[-3000:]

    directory = made_once(tmp_path_factory, "tiny_run", make)
    return types.SimpleNamespace(
        workdir=directory / "run",
        reference=tiny_workdir,
        stdout=(directory / "stdout.txt").read_text(),
        stderr=(directory / "stderr.txt").read_text(),
    )


@pytest.fixture(scope="session")
def reference_steps(tmp_path_factory):
    """tiny_setup.reference_steps(), computed once per session (tests/once.py) and read
    back here: (the state after each step, each step's metrics)."""
    import tiny_setup

    directory = made_once(tmp_path_factory, "reference_steps", tiny_setup.write_reference_steps)
    return tiny_setup.read_reference_steps(directory)
