"""The model shipped in pretrained/ in-betweens videos it never trained on better than a
cross-fade of their key frames and than optical-flow interpolation, with one sample and
with the best of 8, and its samples differ. The cross-fade and the scores are computed here,
apart from the training's metric code; the flow reference is the library's (its warp is
tested against an independent computation in tests/eval/test_eval_flow_interpolation.py)."""

import functools
import json
import os

import dm_pix
import jax
import numpy as np
import pytest

from inbetweening.api import Inbetweener
from inbetweening.config.migration import migrate_model
from inbetweening.data import synthetic
from inbetweening.eval.flow_interpolation import flow_interpolation
from inbetweening.training.trained_models import TRAINING_FILE

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRETRAINED = os.path.join(REPO, "pretrained", "synthetic_demo")
NUM_VIDEOS, NUM_SAMPLES = 16, 8
# The synthetic dataset's test split: indices no training run and no held-out curve draws.
TEST_SPLIT_OFFSET = 2**41


# Compiled: op by op, dm_pix's SSIM takes seconds here.
_ssim = jax.jit(functools.partial(dm_pix.ssim, max_val=1.0))


def _middle_frame_scores(videos: np.ndarray, real: np.ndarray) -> tuple[float, float]:
    """uint8 videos [N, S, T, H, W, C] against real [N, T, H, W, C]: the mean over examples
    of the best over the S samples of the mean SSIM / PSNR over the middle frames."""
    fake = videos[:, :, 1:-1].astype(np.float32) / 255.0
    truth = np.broadcast_to(real[:, None, 1:-1].astype(np.float32) / 255.0, fake.shape)
    frames = fake.shape[-3:]
    ssim = np.asarray(_ssim(fake.reshape(-1, *frames), truth.reshape(-1, *frames))).reshape(
        fake.shape[:3]
    )
    mse = np.mean((fake - truth) ** 2, axis=(-3, -2, -1))
    psnr = 10 * np.log10(1.0 / mse)
    return float(ssim.mean(-1).max(1).mean()), float(psnr.mean(-1).max(1).mean())


def _cross_fade(real: np.ndarray) -> np.ndarray:
    """[N, 1, T, H, W, C]: each frame t a blend (1 - t / (T - 1)) start + t / (T - 1) end."""
    weights = np.linspace(0.0, 1.0, real.shape[1])[None, :, None, None, None]
    start, end = real[:, :1].astype(np.float64), real[:, -1:].astype(np.float64)
    return np.round((1 - weights) * start + weights * end).astype(np.uint8)[:, None]


@pytest.fixture(scope="module")
def shipped():
    with open(os.path.join(PRETRAINED, TRAINING_FILE)) as handle:
        training = json.load(handle)
    return Inbetweener.load(PRETRAINED), training


def test_the_shipped_model_beats_a_cross_fade_on_unseen_videos(shipped):
    model, training = shipped
    data = training["config"]["data"]
    height, width, channels = model.frame_shape
    real = synthetic.generate_batch(
        data["seed"],
        range(TEST_SPLIT_OFFSET, TEST_SPLIT_OFFSET + NUM_VIDEOS),
        model.model_config.num_frames,
        height,
        width,
        channels,
        max_objects=data["synthetic_max_objects"],
        background=data["synthetic_background"],
    )
    videos = np.stack(
        [model.sample(v[0], v[-1], num_samples=NUM_SAMPLES, seed=i) for i, v in enumerate(real)]
    )
    flow = flow_interpolation(real[:, 0], real[:, -1], real.shape[1])[:, None]
    references = {
        "cross-fade": _middle_frame_scores(_cross_fade(real), real),
        "flow": _middle_frame_scores(flow, real),
    }
    scores = {
        "best-of-8": _middle_frame_scores(videos, real),
        "best-of-1": _middle_frame_scores(videos[:, :1], real),
    }
    for name, (ssim, psnr) in scores.items():
        for reference, (reference_ssim, reference_psnr) in references.items():
            assert ssim > reference_ssim and psnr > reference_psnr, (name, reference, scores)
    # Diverse in-betweens: the best of 8 gains over one sample, and the samples of one pair
    # of key frames differ by more than rounding (std across samples, 0-255).
    assert scores["best-of-8"][0] > scores["best-of-1"][0] + 0.02, scores
    spread = videos[:, :, 1:-1].astype(np.float32).std(axis=1).mean()
    assert spread > 1.0, spread


def test_the_shipped_model_says_how_it_was_made(shipped):
    model, training = shipped
    assert training["steps"] > 0 and training["cpu_hours"] > 0
    assert training["command"].startswith("python -m inbetweening.main --config=configs/demo.py")
    assert migrate_model(training["config"]["model"]).to_dict() == model.model_config.to_dict()
    assert {"model_ssim", "crossfade_ssim", "model_psnr", "crossfade_psnr"} <= set(
        training["held_out"]
    )
    size = sum(
        os.path.getsize(os.path.join(folder, name))
        for folder, _, names in os.walk(PRETRAINED)
        for name in names
    )
    assert size <= 10 * 2**20, f"pretrained/ holds {size} bytes"
