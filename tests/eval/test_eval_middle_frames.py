"""Best-of-N SSIM and PSNR of middle frames, the no-training references, and the
training-time evaluator."""

import jax
import numpy as np
import pytest

from inbetweening.eval import middle_frames, ssim

T = 6


def test_cross_fade_blends_linearly_from_start_to_end():
    start = np.full((2, 4, 4, 1), 10, np.uint8)
    end = np.full((2, 4, 4, 1), 160, np.uint8)
    video = middle_frames.cross_fade(start, end, 16)
    assert video.shape == (2, 16, 4, 4, 1) and video.dtype == np.uint8
    np.testing.assert_array_equal(video[:, 0], start)
    np.testing.assert_array_equal(video[:, -1], end)
    assert video[0, 5, 0, 0, 0] == round(10 + 150 * 5 / 15)


def test_repeat_key_frames_switches_at_the_middle():
    start = np.zeros((1, 2, 2, 3), np.uint8)
    end = np.full((1, 2, 2, 3), 255, np.uint8)
    video = middle_frames.repeat_key_frames(start, end, 16)
    assert np.all(video[0, :8] == 0) and np.all(video[0, 8:] == 255)


def _numpy_psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) / 255 - b.astype(np.float64) / 255) ** 2)
    return 10 * np.log10(1.0 / mse)


def test_best_psnr_is_the_best_generation_of_the_mean_over_middle_frames(rng):
    real = rng.integers(0, 256, (2, T, 12, 12, 3), dtype=np.uint8)
    noise = (
        rng.normal(0, 1, (2, 3, *real.shape[1:]))
        * np.array([30, 10, 60])[:, None, None, None, None]
    )
    generated = np.clip(real[:, None] + noise, 0, 255).astype(np.uint8)
    # Exact key frames must not count: generation 2 (the noisiest) gets them exact.
    generated[:, 2, [0, -1]] = real[:, [0, -1]]
    expected = [
        max(
            np.mean([_numpy_psnr(generated[n, g, t], real[n, t]) for t in range(1, T - 1)])
            for g in range(3)
        )
        for n in range(2)
    ]
    actual = np.asarray(middle_frames.best_psnr(generated, real))
    np.testing.assert_allclose(actual, expected, rtol=1e-4)
    # Generation 1, the least noisy, wins for each example.
    for n in range(2):
        assert actual[n] == pytest.approx(
            np.mean([_numpy_psnr(generated[n, 1, t], real[n, t]) for t in range(1, T - 1)]),
            rel=1e-4,
        )


def test_best_of_n_averages_the_best_scores_over_examples(rng):
    real = rng.integers(0, 256, (3, T, 16, 16, 3), dtype=np.uint8)
    generated = np.clip(real[:, None] + rng.normal(0, 25, (3, 2, *real.shape[1:])), 0, 255).astype(
        np.uint8
    )
    scores = middle_frames.best_of_n(generated, real)
    assert scores["ssim"] == pytest.approx(float(np.mean(ssim.best_ssim(generated, real))))
    assert scores["psnr"] == pytest.approx(float(np.mean(middle_frames.best_psnr(generated, real))))


def _moving_square(num_videos: int) -> np.ndarray:
    """A bright square crossing a dark frame: a cross-fade shows two faint squares."""
    videos = np.full((num_videos, T, 16, 16, 1), 30, np.uint8)
    for n in range(num_videos):
        for t in range(T):
            x = 1 + 2 * t + n
            videos[n, t, 5:10, x : x + 4] = 220
    return videos


def test_quality_scores_a_perfect_sampler_above_the_references():
    real = _moving_square(4)
    quality = middle_frames.MiddleFrameQuality(real, num_samples=2)

    def perfect(start, end, num_samples, key):
        np.testing.assert_array_equal(start, real[:, 0])
        np.testing.assert_array_equal(end, real[:, -1])
        return np.repeat(real[:, None], num_samples, axis=1)

    metrics = quality(perfect, jax.random.PRNGKey(0))
    assert metrics["model_ssim"] == pytest.approx(1.0)
    assert metrics["model_psnr"] == np.inf
    for reference in ("crossfade", "repeat"):
        assert metrics[f"{reference}_ssim"] < 0.95
    fade = middle_frames.cross_fade(real[:, 0], real[:, -1], T)
    assert metrics["crossfade_ssim"] == pytest.approx(
        float(np.mean(ssim.best_ssim(fade[:, None], real)))
    )
    table = quality.table(metrics)
    assert "best-of-2 SSIM" in table and "| cross-fade |" in table
    assert "| repeat start, then end |" in table


def test_quality_refuses_no_samples():
    with pytest.raises(ValueError, match="num_samples"):
        middle_frames.MiddleFrameQuality(_moving_square(2), num_samples=0)
