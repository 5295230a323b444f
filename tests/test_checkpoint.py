"""Checkpoints, unit by unit: keep-last-k and keep-best, a damaged best step, partial
saves, shape mismatches. What a tiny run's damaged checkpoints do to readers and to
training is tests/test_training_run.py's; a run killed with SIGKILL resumes exactly in
tests/test_remote_storage.py (gs://); what a save killed before orbax's final rename leaves
is test_an_unfinished_save_is_ignored's."""

import logging
import pathlib

import jax.numpy as jnp
import numpy as np
import pytest

from inbetweening.training import train
from inbetweening.training.checkpoints import CheckpointMismatchError, TrainingCheckpoints

import tiny_setup
from checkpoint_damage import corrupt_array_data
from command_lines import run_training, tiny_training_command


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
    corrupt_array_data(tmp_path / "checkpoints" / "1")
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


def test_cli_exits_2_naming_the_mismatch(tiny_workdir):
    result = run_training(tiny_training_command(tiny_workdir, "--config.model.latent_channels=16"))
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: the checkpoints in ") and "there but" in last_line
