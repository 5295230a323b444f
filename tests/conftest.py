"""Test-session setup: 8 simulated CPU devices, so sharding is exercised on any machine."""

import os

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


@pytest.fixture(scope="session")
def tiny_workdir(tmp_path_factory):
    """A work directory holding one checkpoint (step 1) of the untrained tiny model, made
    once per test process."""
    from inbetweening.models import create_models
    from inbetweening.training.checkpoints import TrainingCheckpoints

    import tiny_setup

    workdir = str(tmp_path_factory.mktemp("tiny_workdir"))
    config = tiny_setup.tiny_config(4)
    state = tiny_setup.initial_state(config, create_models(config.model))
    checkpoints = TrainingCheckpoints(workdir, keep=1)
    checkpoints.save(1, state, config)
    checkpoints.wait_until_finished()
    checkpoints.close()
    return workdir
