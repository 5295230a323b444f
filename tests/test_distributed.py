"""Multi-process training on one machine: 2 processes with 2 CPU devices each, joined by
jax.distributed over loopback (gloo collectives) into a (data 2, fsdp 2) mesh, take the
same steps as 1 process on 1 device, through a checkpoint written and restored by both;
when one process dies the other stops, with a clear message, in bounded time; the validation
FVD's gather gives every process every process's embeddings.

The 2-process job shards parameters and optimizer state (FSDP) because that covers the
replicated case too: the batch still spans both processes, so the gradients still cross
them. (With --mesh_fsdp=1 the same test passes; each job costs ~75 s here.)
"""

import contextlib
import os
import subprocess
import sys
import time
import types

import jax
import numpy as np
import pytest

from inbetweening.runtime import distributed

import xla_test_flags
from command_lines import start_two_processes
from tiny_setup import REFERENCE_STEPS, reference_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(REPO, "tests", "distributed_worker.py")
HEARTBEAT_SECONDS = 5
# Start-up (~10 s) + heartbeat timeout + the coordination service's polling, with margin.
DEATH_NOTICED_WITHIN_SECONDS = 60


def _start_two_processes(command: list[str]) -> list[subprocess.Popen]:
    """`command` as two processes of one job, each with 2 CPU devices."""
    env = {**os.environ}
    env.update(XLA_FLAGS=xla_test_flags.with_devices(2), JAX_PLATFORMS="cpu", PYTHONPATH=REPO)
    return start_two_processes(command, env)


def _start_workers(task: str, output: str, extra_flags=()) -> list[subprocess.Popen]:
    return _start_two_processes(
        [sys.executable, WORKER, f"--task={task}", f"--output={output}", *extra_flags]
    )


def _finish(process: subprocess.Popen, timeout: float) -> str:
    try:
        return process.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        raise


@contextlib.contextmanager
def _killed_on_exit(processes: list[subprocess.Popen]):
    try:
        yield processes
    finally:
        for process in processes:
            process.kill()


def _assert_all_succeed(workers: list[subprocess.Popen], timeout: float) -> None:
    logs = [_finish(worker, timeout=timeout) for worker in workers]
    for worker, log in zip(workers, logs):
        assert worker.returncode == 0, log[-3000:]


def test_two_processes_with_fsdp_match_one_process_on_one_device(tmp_path, request):
    output = str(tmp_path / "two_processes.npz")
    with _killed_on_exit(_start_workers("train", output, ["--mesh_fsdp=2"])) as workers:
        # Meanwhile the session's reference steps on one device (tests/conftest.py).
        states, reference = request.getfixturevalue("reference_steps")
        _assert_all_succeed(workers, timeout=300)
    state, config = states[-1], reference_config()
    results = np.load(output)
    assert results["sharded_leaves"] > 0
    for step, metrics in enumerate(reference):
        for name, value in metrics.items():
            np.testing.assert_allclose(
                results[f"metrics{step}/{name}"], value, rtol=1e-5, err_msg=name
            )
    # The cross-process all-reduce sums the gradient in another order than one process,
    # a rounding-level change. Adam divides each gradient by its own RMS, which turns that
    # change into one of up to ~lr per step where a gradient is ~0: so almost every value
    # agrees to float precision (all 251,004 against one device at batch 8, 2026-12-02;
    # all but 0.104% against 4 devices at batch 4, 2026-11-30) and every value to within
    # 2 lr per step.
    close, total = 0, 0
    for path, leaf in jax.tree_util.tree_leaves_with_path(state):
        value = results[jax.tree_util.keystr(path)]
        np.testing.assert_allclose(
            value,
            leaf,
            rtol=0,
            atol=2 * REFERENCE_STEPS * config.learning_rate,
            err_msg=jax.tree_util.keystr(path),
        )
        close += np.sum(np.isclose(value, leaf, rtol=1e-5, atol=1e-6))
        total += np.size(leaf)
    assert close >= 0.998 * total, f"{total - close} of {total} values differ"


def test_gather_rows_joins_unequal_shards_in_process_order(tmp_path):
    output = str(tmp_path / "gathered.npy")
    with _killed_on_exit(_start_workers("gather", output)) as workers:
        _assert_all_succeed(workers, timeout=120)
    np.testing.assert_array_equal(np.load(output), [[0.0] * 3, [1.0] * 3, [1.0] * 3])


def test_eval_mode_refuses_several_processes(tmp_path):
    command = [
        sys.executable,
        "-m",
        "inbetweening.main",
        "--config=configs/demo.py",
        f"--workdir={tmp_path}",
        "--mode=eval",
    ]
    with _killed_on_exit(_start_two_processes(command)) as processes:
        logs = [_finish(process, timeout=120) for process in processes]
    for process, log in zip(processes, logs):
        assert process.returncode == 2, log[-3000:]
        assert "--mode=eval runs in one process" in log.strip().splitlines()[-1]
    assert not (tmp_path / "eval").exists()


def test_a_dead_process_stops_the_others(tmp_path):
    """Process 1 exits at once; process 0, waiting for it in a barrier, is terminated by
    JAX once process 1 has missed heartbeats for HEARTBEAT_SECONDS."""
    started = time.monotonic()
    workers = _start_workers(
        "die",
        str(tmp_path / "unused.npz"),
        [f"--heartbeat_timeout_seconds={HEARTBEAT_SECONDS}", "--shutdown_timeout_seconds=5"],
    )
    with _killed_on_exit(workers) as (survivor, dying):
        survivor_log = _finish(survivor, timeout=DEATH_NOTICED_WITHIN_SECONDS)
        _finish(dying, timeout=10)
    assert time.monotonic() - started < DEATH_NOTICED_WITHIN_SECONDS
    assert survivor.returncode != 0, survivor_log[-3000:]
    assert "barrier that process 1 never reached" not in survivor_log
    assert "stopped sending heartbeats" in survivor_log, survivor_log[-3000:]


def _flags(**given):
    values = dict(
        coordinator_address=None, num_processes=None, process_id=None, distributed_from_env=False
    )
    return types.SimpleNamespace(**{**values, **given})


def test_incomplete_or_conflicting_flags_are_refused():
    with pytest.raises(distributed.DistributedFlagsError, match="--process_id"):
        distributed.initialize(_flags(coordinator_address="h:1", num_processes=2))
    with pytest.raises(distributed.DistributedFlagsError, match="choose one"):
        distributed.initialize(
            _flags(
                coordinator_address="h:1", num_processes=2, process_id=0, distributed_from_env=True
            )
        )


def test_single_process_initialises_nothing():
    distributed.initialize(_flags())
    assert jax.process_count() == 1
