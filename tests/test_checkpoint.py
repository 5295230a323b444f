"""Checkpoints: keep-last-k and keep-best, partial saves, shape mismatches, damaged steps
(moved aside by training, passed over by readers), faults of the environment that are not
damage, and a resume that reaches the parameters of an unbroken run, bit for bit. A run
killed with SIGKILL resumes exactly in tests/test_remote_storage.py (gs://); what a save
killed before orbax's final rename leaves is test_an_unfinished_save_is_ignored's."""

import logging
import os
import pathlib
import shutil
import sys

import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from inbetweening.api import Inbetweener
from inbetweening.training import train
from inbetweening.training.checkpoints import (
    RETRY_PAUSES,
    CheckpointMismatchError,
    TrainingCheckpoints,
    flatten_with_names,
)

import tiny_setup
from command_lines import (
    run_training,
    start_two_processes,
    tiny_training_command,
    training_environment,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_config(**changes):
    """tiny_setup's config at batch 4 (tiny_training_command's), with `changes` given in
    the command line's literal syntax."""
    config = tiny_setup.tiny_config(4)
    for name, text in changes.items():
        *parents, leaf = name.split(".")
        node = config
        for parent in parents:
            node = node[parent]
        node[leaf] = type(node[leaf])(eval(text))
    return config


def _state(value: float):
    return {"w": jnp.full((2, 3), value), "step": jnp.asarray(0)}


def test_keeps_latest_k_and_the_best_fvd_as_it_goes_up_and_down(tmp_path):
    checkpoints = TrainingCheckpoints(str(tmp_path), keep=2)
    config = tiny_config()
    fvds = {1: 50.0, 2: 30.0, 3: 40.0, 4: 20.0, 5: 60.0, 6: 25.0}
    expected_best = {1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4}
    for step, fvd in fvds.items():
        checkpoints.save(step, _state(step), config, metrics={"val_fvd": fvd})
        checkpoints.wait_until_finished()
        assert checkpoints.best_step() == expected_best[step]
    assert checkpoints.all_steps() == [4, 5, 6]
    checkpoints.close()
    reopened = TrainingCheckpoints(str(tmp_path), keep=2)
    assert reopened.best_step() == 4
    restored, meta = reopened.restore_raw(4)
    np.testing.assert_array_equal(restored["w"], np.full((2, 3), 4.0))
    assert meta["next_train_batch"] == 4


def test_a_corrupt_best_step_gives_way_to_the_newest_intact_one(tmp_path, caplog):
    checkpoints = TrainingCheckpoints(str(tmp_path), keep=3)
    for step, fvd in ((1, 10.0), (2, 30.0), (3, 20.0)):
        checkpoints.save(step, _state(step), tiny_config(), metrics={"val_fvd": fvd})
    checkpoints.wait_until_finished()
    checkpoints.close()
    _corrupt_array_data(tmp_path / "checkpoints" / "1")
    reader = TrainingCheckpoints(str(tmp_path), keep=3, read_only=True)
    assert reader.best_step() == 1
    with caplog.at_level(logging.WARNING, logger="absl"):
        step, state, _ = reader.restore_raw_intact()
    assert step == 3
    np.testing.assert_array_equal(state["w"], np.full((2, 3), 3.0))
    assert "Checkpoint step 1" in caplog.text and "cannot be restored" in caplog.text
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["1", "2", "3"]


def test_best_is_latest_without_metrics(tmp_path):
    checkpoints = TrainingCheckpoints(str(tmp_path), keep=3)
    for step in (2, 4, 6, 8):
        checkpoints.save(step, _state(step), tiny_config())
    checkpoints.wait_until_finished()
    assert checkpoints.all_steps() == [4, 6, 8]
    assert checkpoints.best_step() == checkpoints.latest_step() == 8


def test_an_unfinished_save_is_ignored(tmp_path):
    checkpoints = TrainingCheckpoints(str(tmp_path), keep=3)
    checkpoints.save(2, _state(2), tiny_config())
    checkpoints.wait_until_finished()
    checkpoints.close()
    # What a save killed before orbax's final rename leaves behind.
    partial = tmp_path / "checkpoints" / "4.orbax-checkpoint-tmp"
    (partial / "state").mkdir(parents=True)
    (partial / "state" / "half_written").write_bytes(b"\0" * 10)
    assert TrainingCheckpoints(str(tmp_path), keep=3, read_only=True).latest_step() == 2
    resumed = TrainingCheckpoints(str(tmp_path), keep=3)
    assert resumed.latest_step() == 2
    resumed.save(4, _state(4), tiny_config())  # as a resumed run does, over the leftover
    resumed.wait_until_finished()
    assert resumed.all_steps() == [2, 4] and not partial.exists()
    np.testing.assert_array_equal(resumed.restore_raw(4)[0]["w"], np.full((2, 3), 4.0))


def test_checkpoints_of_another_config_refuse_to_start_and_stay(tiny_workdir):
    before = {p: p.stat().st_mtime_ns for p in pathlib.Path(tiny_workdir).rglob("*")}
    wider = tiny_config(**{"model.latent_channels": "16", "batch_size": "8"})
    expected = r"has shape \(.*\) there but \(.*16.*\) in this config"
    with pytest.raises(CheckpointMismatchError, match=expected):
        train.train_and_evaluate(wider, tiny_workdir)
    assert {p: p.stat().st_mtime_ns for p in pathlib.Path(tiny_workdir).rglob("*")} == before


def test_cli_exits_2_naming_the_mismatch(tiny_workdir, tmp_path):
    command = _train_command(tiny_workdir) + ["--config.model.latent_channels=16"]
    result = run_training(command)
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: the checkpoints in ") and "there but" in last_line


def _train_command(workdir) -> list[str]:
    """8 steps, checkpoints every 2, no sampling before the end."""
    return tiny_training_command(
        workdir,
        "--config.num_train_steps=8",
        "--config.checkpoint_every_steps=2",
        "--config.sample_every_steps=1000",
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A work directory trained 8 steps in one go (checkpoints 4, 6, 8 kept)."""
    workdir = tmp_path_factory.mktemp("uninterrupted") / "run"
    result = run_training(_train_command(workdir))
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def _assert_same_states(state, reference):
    assert state.keys() == reference.keys()
    for path, array in reference.items():
        np.testing.assert_array_equal(state[path], array, err_msg=path)


def _corrupt_array_data(step_dir: pathlib.Path) -> None:
    """Flips bytes in the middle of every data file of a step, as a bad disk or copy does."""
    files = [p for p in (step_dir / "state").rglob("*") if p.is_file() and p.parent.name == "d"]
    assert files
    for path in files:
        data = bytearray(path.read_bytes())
        for i in range(len(data) // 2, min(len(data), len(data) // 2 + 64)):
            data[i] ^= 0xFF
        path.write_bytes(bytes(data))


def _truncate_sharding(step_dir: pathlib.Path) -> None:
    with open(step_dir / "state" / "_sharding", "r+b") as handle:
        handle.truncate(20)


def _copy(workdir, destination):
    shutil.copytree(workdir, destination)
    return destination


@pytest.mark.parametrize("corrupt", [_corrupt_array_data, _truncate_sharding])
def test_readers_use_the_newest_intact_step_and_move_nothing(tmp_path, trained, corrupt, caplog):
    damaged = _copy(trained, tmp_path / "damaged")
    corrupt(damaged / "checkpoints" / "8")
    with caplog.at_level(logging.WARNING, logger="absl"):
        model = Inbetweener.load(damaged)
    assert model.training_info["steps"] == 6
    np.testing.assert_array_equal(
        flatten_with_names(model.variables["params"])["ImageEncoder_0/Conv_0/kernel"],
        _final_state(trained, 8, step=6)["g_ema_params/ImageEncoder_0/Conv_0/kernel"],
    )
    assert "Checkpoint step 8" in caplog.text and "cannot be restored" in caplog.text
    assert sorted(p.name for p in (damaged / "checkpoints").iterdir()) == ["4", "6", "8"]


def test_training_moves_a_corrupt_latest_step_aside_and_resumes_from_the_one_before(
    tmp_path, trained
):
    """Step 8 damaged: training moves it aside, resumes from step 6 and takes steps 7
    and 8 again, to the parameters of the unbroken run, bit for bit (a run killed on
    gs:// resumes exactly too: tests/test_remote_storage.py)."""
    damaged = _copy(trained, tmp_path / "damaged")
    _corrupt_array_data(damaged / "checkpoints" / "8")
    run = run_training(_train_command(damaged))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    warning = [line for line in run.stderr.splitlines() if "cannot be restored" in line]
    assert len(warning) == 1 and "step 8" in warning[0] and "8.corrupt" in warning[0], warning
    assert (damaged / "checkpoints" / "8.corrupt").is_dir()
    assert "Resuming from" in run.stderr and "/6" in run.stderr
    _assert_same_states(_final_state(damaged), _final_state(trained))


def test_when_no_step_restores_training_and_sampling_exit_2(tmp_path, trained):
    damaged = _copy(trained, tmp_path / "damaged")
    for step_dir in (damaged / "checkpoints").iterdir():
        _corrupt_array_data(step_dir)
    before = sorted(p.name for p in (damaged / "checkpoints").iterdir())
    # Sampling first: it must leave the steps where they are for training to find.
    commands = {
        "sample": [
            sys.executable,
            "-m",
            "inbetweening.sample",
            f"--model={damaged}",
            f"--start={_key_frame(tmp_path)}",
            f"--end={_key_frame(tmp_path)}",
            f"--out={tmp_path / 'out.gif'}",
        ],
        "train": _train_command(damaged),
    }
    for name, command in commands.items():
        result = run_training(command)
        assert result.returncode == 2, (name, result.stderr[-3000:])
        assert "Traceback" not in result.stderr, name
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: {damaged}: no checkpoint can be restored"), (name, last)
        assert "steps tried: 8, 6, 4" in last, (name, last)
    # Training moved every step aside; nothing was deleted, and sampling wrote nothing.
    assert sorted(p.name for p in (damaged / "checkpoints").iterdir()) == sorted(
        f"{name}.corrupt" for name in before
    )
    assert not (tmp_path / "out.gif").exists()


def test_a_permission_error_at_restore_is_retried_then_stops_with_nothing_moved(tmp_path, trained):
    """A fault of the environment is not damage: the step is read again a few times, then
    the run stops naming the work directory and the error; no step is moved aside and none
    rolled back."""
    workdir = _copy(trained, tmp_path / "workdir")
    before = sorted(p.name for p in (workdir / "checkpoints").iterdir())
    command = [sys.executable, os.path.join(REPO, "tests", "faulty_restore.py")]
    result = run_training(command + _train_command(workdir)[3:])
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.count("trying again") == len(RETRY_PAUSES)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {workdir}: checkpoint step 8 could not be read"), last
    assert "PermissionError" in last and "nothing was moved" in last
    assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == before


def test_two_processes_sharing_a_damaged_workdir_resume_from_the_same_step(tmp_path, trained):
    """Both processes read the damaged latest step and agree it is damaged; process 0 alone
    moves it aside while process 1 waits for it, and both resume from the step before."""
    workdir = _copy(trained, tmp_path / "shared")
    _corrupt_array_data(workdir / "checkpoints" / "8")
    env = {**training_environment(), "JAX_CPU_COLLECTIVES_IMPLEMENTATION": "gloo"}
    # Nothing left to train once step 6 is restored: no train step is compiled. No
    # persistent cache: XLA:CPU's collectives deadlocked from it (WORKSPACE.md).
    command = _train_command(workdir) + ["--config.num_train_steps=6", "--compilation_cache_dir="]
    processes = start_two_processes(command, env)
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    for process, output in zip(processes, outputs):
        assert process.returncode == 0, output[-3000:]
        assert "Traceback" not in output
        assert "Resuming from" in output and "/6" in output, output[-2000:]
    assert "moved to" in outputs[0] and "moved to" not in outputs[1]
    names = sorted(p.name for p in (workdir / "checkpoints").iterdir())
    assert names == ["4", "6", "8.corrupt"], names


def _key_frame(directory) -> pathlib.Path:
    path = pathlib.Path(directory) / "key.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(path)
    return path


def _final_state(workdir, latest=8, step=None):
    """The state saved at `step` (default: `latest`, which must be the latest step)."""
    checkpoints = TrainingCheckpoints(str(workdir), keep=3, read_only=True)
    assert checkpoints.latest_step() == latest
    return flatten_with_names(checkpoints.restore_raw(step or latest)[0])
