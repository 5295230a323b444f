"""The session's tiny training run through the command line (tests/conftest.py `tiny_run`:
8 steps, checkpoints every 2, 4, 6 and 8 kept, the sample grid and the held-out metric at
steps 4 and 8, a reference model beside the run). What users read from it: metrics.json,
the sample GIFs, TensorBoard's events, the curves tool. And what its checkpoints do when damaged (in
copies): readers pass over a damaged step and move nothing, training moves it aside (two
processes agreeing on it, or every step when none restores); a fault of the environment is
not damage. A run killed with SIGKILL, its latest step damaged, resumes from the step
before to the parameters of this run, bit for bit, in tests/test_remote_storage.py."""

import json
import logging
import math
import os
import pathlib
import shutil
import sys

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator

from inbetweening.api import Inbetweener
from inbetweening.training.checkpoints import RETRY_PAUSES, TrainingCheckpoints, flatten_with_names

from checkpoint_damage import corrupt_array_data, truncate_sharding
from command_lines import (
    checkpointed_training_command,
    run_module,
    run_training,
    start_two_processes,
    training_environment,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_run_writes_metrics_samples_and_events(tiny_run, tmp_path):
    workdir = tiny_run.workdir
    reference = os.path.basename(tiny_run.reference)
    metrics = json.loads((workdir / "metrics.json").read_text())
    assert metrics["steps"] == 8
    assert [point["step"] for point in metrics["held_out_curve"]] == [4, 8]
    last_point = {k: v for k, v in metrics["held_out_curve"][-1].items() if k != "step"}
    assert last_point.items() <= metrics["held_out"].items()
    # The project's own lines only (no library INFO chatter, no absl prefixes), ending with
    # the table and where the results are.
    assert "orbax" not in tiny_run.stderr.lower(), tiny_run.stderr[-3000:]
    assert not any(
        line[:1] in "IW" and line[1:5].isdigit() for line in tiny_run.stderr.splitlines()
    )
    assert "step 8/8" in tiny_run.stderr
    last = tiny_run.stdout.strip().splitlines()
    assert last[-3] == f"Samples of {reference}: {workdir / (reference + '_samples.gif')}"
    assert last[-2].startswith("Samples (rows:") and last[-2].endswith("samples.gif")
    assert last[-1] == f"Metrics: {workdir / 'metrics.json'}"
    curves = run_module("inbetweening.tools.curves", workdir, f"--out={tmp_path / 'c.png'}")
    assert curves.returncode == 0, curves.stderr[-2000:]
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    assert metrics["final_losses"] and all(
        math.isfinite(v) for v in metrics["final_losses"].values()
    )
    assert (workdir / "samples.gif").read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    # The held-out middle-frame metric, with its references, in metrics.json and stdout.
    held_out = metrics["held_out"]
    assert metrics["held_out_videos"] == 3 and metrics["held_out_samples"] == 2
    for method in ("model", "crossfade", "repeat"):
        assert 0 < held_out[f"{method}_ssim"] <= 1 and held_out[f"{method}_psnr"] > 0
    assert "| cross-fade |" in tiny_run.stdout and "best-of-2 SSIM" in tiny_run.stdout
    # A reference model, scored beside the run on the same videos, with its own samples.
    # A work directory's model is labelled with its step (the tiny one was saved at step 1).
    assert f"| {reference}, 1 step |" in tiny_run.stdout, tiny_run.stdout
    assert 0 < held_out[f"{reference}_ssim"] <= 1
    assert (workdir / f"{reference}_samples.gif").read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    # What README promises in TensorBoard, read back with TensorBoard's own reader.
    events = event_accumulator.EventAccumulator(str(workdir), size_guidance={"images": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    assert {
        "g_loss",
        "d_loss",
        "steps_per_second",
        "held_out/model_ssim",
        "held_out/crossfade_psnr",
        "held_out/repeat_ssim",
    } <= scalars, scalars
    assert "illegal" not in tiny_run.stderr  # every tag is a valid TensorBoard name
    assert [e.step for e in events.Scalars("g_loss")] == list(range(1, 9))
    sample = events.Images("samples")[-1]
    assert sample.step == 8 and sample.encoded_image_string[:6] in (b"GIF87a", b"GIF89a")
    assert sample.width > 0 and sample.height > 0


@pytest.mark.parametrize("corrupt", [corrupt_array_data, truncate_sharding])
def test_readers_use_the_newest_intact_step_and_move_nothing(tmp_path, tiny_run, corrupt, caplog):
    damaged = shutil.copytree(tiny_run.workdir, tmp_path / "damaged")
    corrupt(damaged / "checkpoints" / "8")
    with caplog.at_level(logging.WARNING, logger="absl"):
        model = Inbetweener.load(damaged)
    assert model.training_info["steps"] == 6
    np.testing.assert_array_equal(
        flatten_with_names(model.variables["params"])["ImageEncoder_0/Conv_0/kernel"],
        _saved_state(tiny_run.workdir, 6, latest=8)["g_ema_params/ImageEncoder_0/Conv_0/kernel"],
    )
    assert "Checkpoint step 8" in caplog.text and "cannot be restored" in caplog.text
    assert sorted(p.name for p in (damaged / "checkpoints").iterdir()) == ["4", "6", "8"]


def test_when_no_step_restores_training_and_sampling_exit_2(tmp_path, tiny_run):
    damaged = shutil.copytree(tiny_run.workdir, tmp_path / "damaged")
    for step_dir in (damaged / "checkpoints").iterdir():
        corrupt_array_data(step_dir)
    before = sorted(p.name for p in (damaged / "checkpoints").iterdir())
    key_frame = _key_frame(tmp_path)
    # Sampling first: it must leave the steps where they are for training to find.
    commands = {
        "sample": [
            sys.executable,
            "-m",
            "inbetweening.sample",
            f"--model={damaged}",
            f"--start={key_frame}",
            f"--end={key_frame}",
            f"--out={tmp_path / 'out.gif'}",
        ],
        "train": checkpointed_training_command(damaged),
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


def test_a_permission_error_at_restore_is_retried_then_stops_with_nothing_moved(tmp_path, tiny_run):
    """A fault of the environment is not damage: the step is read again a few times, then
    the run stops naming the work directory and the error; no step is moved aside and none
    rolled back."""
    workdir = shutil.copytree(tiny_run.workdir, tmp_path / "workdir")
    before = sorted(p.name for p in (workdir / "checkpoints").iterdir())
    command = [sys.executable, os.path.join(REPO, "tests", "faulty_restore.py")]
    result = run_training(command + checkpointed_training_command(workdir)[3:])
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert result.stderr.count("trying again") == len(RETRY_PAUSES)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {workdir}: checkpoint step 8 could not be read"), last
    assert "PermissionError" in last and "nothing was moved" in last
    assert sorted(p.name for p in (workdir / "checkpoints").iterdir()) == before


def test_two_processes_sharing_a_damaged_workdir_resume_from_the_same_step(tmp_path, tiny_run):
    """Both processes read the damaged latest step and agree it is damaged; process 0 alone
    moves it aside while process 1 waits for it, and both resume from the step before."""
    workdir = shutil.copytree(tiny_run.workdir, tmp_path / "shared")
    corrupt_array_data(workdir / "checkpoints" / "8")
    env = {**training_environment(), "JAX_CPU_COLLECTIVES_IMPLEMENTATION": "gloo"}
    # Nothing left to train once step 6 is restored: no train step is compiled. No
    # persistent cache: XLA:CPU's collectives deadlocked from it (WORKSPACE.md).
    command = checkpointed_training_command(workdir) + [
        "--config.num_train_steps=6",
        "--compilation_cache_dir=",
    ]
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


def _saved_state(workdir, step, latest):
    """The state saved at `step` of a run whose latest step is `latest`, by array name."""
    checkpoints = TrainingCheckpoints(str(workdir), keep=3, read_only=True)
    assert checkpoints.latest_step() == latest
    return flatten_with_names(checkpoints.restore_raw(step)[0])
