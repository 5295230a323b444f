"""End to end: training with validation FVD at checkpoints, then --mode=eval's table."""

import json
import os
import subprocess
import sys

import pytest

TINY = [
    "--config=configs/demo.py",
    "--config.model.image_size=16",
    "--config.model.num_latent_blocks=3",
    "--config.batch_size=2",
    "--config.model.encoder_channels=(4,4,4,4,8,8)",
    "--config.model.video_generator_channels=(8,8,4,4,4,4)",
    "--config.model.video_discriminator_channels=(4,4,4,4)",
    "--config.model.image_discriminator_channels=(4,4,4,4)",
    "--config.data.num_eval_videos=3",
    "--config.eval.num_generations=2",
    "--config.eval.num_bootstrap_resamples=50",
    "--config.num_train_steps=2",
    "--config.checkpoint_every_steps=2",
    "--config.sample_every_steps=2",
    "--config.log_every_steps=1",
    "--config.num_sample_videos=2",
]


def _main(workdir, *flags):
    # One device: the I3D pads each call to a multiple of the device count, and 8 simulated
    # devices would embed mostly padding here (sharding has tests of its own). XLA's default
    # optimisation: the 224x224 I3D runs long enough here that xla_test_flags' faster
    # compilation costs more than it saves (161 s against 78 s).
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    return subprocess.run(
        [sys.executable, "-m", "inbetweening.main", f"--workdir={workdir}", *TINY, *flags],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )


def test_validation_fvd_selects_checkpoints_and_eval_writes_the_table(tmp_path):
    trained = _main(tmp_path, "--config.eval.validation_fvd=True")
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "validation FVD" in trained.stderr

    evaluated = _main(tmp_path, "--mode=eval")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    with open(tmp_path / "eval" / "results.json") as handle:
        results = json.load(handle)["results"]
    assert set(results) == {"model (full)", "cross-fade", "repeat start, then end"}
    model = results["model (full)"]
    assert model["num_videos"] == 3 and model["num_generations"] == 2
    for metrics in results.values():
        for name in ("fvd", "diversity", "ssim"):
            assert metrics[name]["low"] <= metrics[name]["mean"] <= metrics[name]["high"]
    table = (tmp_path / "eval" / "results.md").read_text()
    assert "| model (full) |" in table and "| cross-fade |" in table

    # One run aggregated: the same numbers, from the raw values eval left beside them.
    out = tmp_path / "combined" / "tables"
    aggregated = subprocess.run(
        [
            sys.executable,
            "-m",
            "inbetweening.eval.aggregate",
            str(tmp_path),
            f"--out={out}",
            "--num_resamples=50",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert aggregated.returncode == 0, aggregated.stderr[-3000:]
    with open(f"{out}.json") as handle:
        combined = json.load(handle)
    assert combined["settings"]["model.variant"] == "full"
    for method, metrics in results.items():
        for name in ("fvd", "diversity", "ssim"):
            assert combined["tables"][method][name]["mean"] == pytest.approx(metrics[name]["mean"])
            assert combined["tables"][method][name]["low"] == pytest.approx(metrics[name]["low"])


def test_eval_without_checkpoints_is_a_user_error(tmp_path):
    result = _main(tmp_path, "--mode=eval")
    assert result.returncode == 2
    assert "checkpoints" in result.stderr.splitlines()[-1]
    assert not (tmp_path / "eval").exists()
