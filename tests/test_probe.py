"""The probes on the tiny model: what they write, and the measures they are made of
against independent numpy computations."""

import json
import os
import sys

import numpy as np
import pytest
from PIL import Image

from inbetweening.tools import probe_measures

from command_lines import compilation_cache_flag, run_module, run_training, tiny_model_flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CURVE_KEYS = {
    "step",
    "model_ssim",
    "model_psnr",
    "spread_across_videos",
    "spread_across_noise",
    "real_spread_across_videos",
    "g_loss",
}


@pytest.mark.parametrize("kind", ["fixed_batch", "supervised"])
def test_probe_writes_its_curve_and_pictures(tmp_path, kind):
    # Through the command line, in the training runs' environment (one device): the init,
    # the sampler and, for fixed_batch, the train step are tests/command_lines.py's
    # training runs' programs, compiled once for the session.
    result = run_training(
        [
            sys.executable,
            "-m",
            "inbetweening.tools.probe",
            f"--config={os.path.join(REPO, 'configs', 'demo.py')}",
            *tiny_model_flags(),
            "--config.batch_size=4",
            f"--kind={kind}",
            "--steps=2",
            "--num_videos=4",
            "--eval_every=1",
            "--num_samples=2",
            f"--out={tmp_path}",
            compilation_cache_flag(),
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    written = json.loads((tmp_path / "probe.json").read_text())
    assert [point["step"] for point in written["curve"]] == [1, 2]
    for key in (
        "model_ssim",
        "model_psnr",
        "crossfade_ssim",
        "crossfade_psnr",
        "spread_across_videos",
        "real_spread_across_videos",
    ):
        assert np.isfinite(written[key]), key
    assert written["kind"] == kind and written["num_videos"] == 4
    assert CURVE_KEYS <= set(written["curve"][-1])
    with Image.open(tmp_path / "probe.png") as picture:
        assert picture.size[0] > 500
    with Image.open(tmp_path / "samples.gif") as samples:
        assert samples.n_frames == 16
    if kind == "fixed_batch":
        assert {"d_loss", "video_push_coarse_cosine_to_real"} <= set(written["curve"][-1])
        assert (tmp_path / "push.png").exists()
    else:  # no discriminator is trained, so there is no push to draw
        assert written["curve"][-1]["l1_loss"] > 0 and "d_loss" not in written["curve"][-1]
        assert not (tmp_path / "push.png").exists()


def test_spreads_are_standard_deviations_across_videos_and_noise():
    rng = np.random.default_rng(0)
    generated = rng.integers(0, 256, (3, 4, 6, 8, 8, 1), dtype=np.uint8)
    real = rng.integers(0, 256, (3, 6, 8, 8, 1), dtype=np.uint8)
    got = probe_measures.spreads(generated, real)
    fake = generated[:, :, 1:-1] / 255.0
    assert got["spread_across_videos"] == pytest.approx(fake.std(axis=0).mean(), rel=1e-5)
    assert got["spread_across_noise"] == pytest.approx(fake.std(axis=1).mean(), rel=1e-5)
    assert got["real_spread_across_videos"] == pytest.approx(
        (real[:, 1:-1] / 255.0).std(axis=0).mean(), rel=1e-5
    )


def test_high_frequency_share_tells_a_checkerboard_from_a_ramp():
    checkerboard = (np.indices((16, 16)).sum(axis=0) % 2)[None, :, :, None] - 0.5
    assert probe_measures.high_frequency_share(checkerboard) == pytest.approx(1.0)
    ramp = np.linspace(-1, 1, 16)[None, :, None, None] * np.ones((1, 16, 16, 1))
    assert probe_measures.high_frequency_share(ramp) < 0.1
    noise = np.random.default_rng(0).normal(size=(64, 32, 32, 1))
    # White noise spreads evenly over the 32 x 32 frequencies, 17 of each 32 at or below
    # a quarter cycle.
    assert probe_measures.high_frequency_share(noise) == pytest.approx(1 - (17 / 32) ** 2, abs=0.02)


def test_cosine_and_coarse():
    a = np.random.default_rng(1).normal(size=(2, 8, 8, 3))
    assert probe_measures.cosine(a, 2 * a) == pytest.approx(1.0)
    assert probe_measures.cosine(a, -a) == pytest.approx(-1.0)
    np.testing.assert_allclose(probe_measures.coarse(a)[0, 0, 0], a[0, :4, :4].mean(axis=(0, 1)))


def test_cli_refuses_a_bad_step_count_in_one_line(tmp_path):
    result = run_module(
        "inbetweening.tools.probe",
        "--config=configs/demo.py",
        "--steps=0",
        f"--out={tmp_path}/out",
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: --steps=0")
    assert not (tmp_path / "out").exists()
