"""Best-of-N and best-of-1 SSIM and PSNR of middle frames, their spread across samples, the
no-training references, and the training-time evaluator."""

import re

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


def _noisy_generations(rng, shape=(2, 3, T, 12, 12, 3), scales=(30, 10, 60)):
    """uint8 real [N, T, H, W, C] and generations [N, G, ...] with noise of `scales` each."""
    real = rng.integers(0, 256, (shape[0], *shape[2:]), dtype=np.uint8)
    noise = rng.normal(0, 1, shape) * np.array(scales)[:, None, None, None, None]
    generated = np.clip(real[:, None] + noise, 0, 255).astype(np.uint8)
    # Exact key frames must not count: generation 2 (the noisiest) gets them exact.
    generated[:, 2, [0, -1]] = real[:, [0, -1]]
    return real, generated


def test_generation_scores_are_means_over_the_middle_frames(rng):
    real, generated = _noisy_generations(rng)
    scores = middle_frames.generation_scores(generated, real)
    middle = range(1, T - 1)
    expected_psnr = [
        [np.mean([_numpy_psnr(generated[n, g, t], real[n, t]) for t in middle]) for g in range(3)]
        for n in range(2)
    ]
    expected_ssim = [
        [
            np.mean([float(ssim.ssim(generated[n, g, t], real[n, t])) for t in middle])
            for g in range(3)
        ]
        for n in range(2)
    ]
    np.testing.assert_allclose(scores["psnr"], expected_psnr, rtol=1e-4)
    np.testing.assert_allclose(scores["ssim"], expected_ssim, rtol=1e-4)
    # Generation 1, the least noisy, is the best for each example.
    assert np.all(np.argmax(scores["psnr"], axis=1) == 1)
    assert np.all(np.argmax(scores["ssim"], axis=1) == 1)


def test_best_of_n_averages_the_best_scores_over_examples(rng):
    real = rng.integers(0, 256, (3, T, 16, 16, 3), dtype=np.uint8)
    generated = np.clip(real[:, None] + rng.normal(0, 25, (3, 2, *real.shape[1:])), 0, 255).astype(
        np.uint8
    )
    scores = middle_frames.best_of_n(generated, real)
    assert set(scores) == {"ssim", "psnr"}
    assert scores["ssim"] == pytest.approx(float(np.mean(ssim.best_ssim(generated, real))))
    per_generation = middle_frames.generation_scores(generated, real)
    assert scores["psnr"] == pytest.approx(float(np.mean(np.max(per_generation["psnr"], axis=1))))


def test_sample_scores_add_best_of_1_and_the_spread_across_samples(rng):
    real, generated = _noisy_generations(rng)
    scores = middle_frames.sample_scores(generated, real)
    assert set(scores) == set(middle_frames.SAMPLE_METRICS)
    per_generation = middle_frames.generation_scores(generated, real)
    for metric in ("ssim", "psnr"):
        values = np.asarray(per_generation[metric])
        assert scores[metric] == pytest.approx(values.max(axis=1).mean(), rel=1e-5)
        # Best-of-1: the expected score of one sample, below best-of-N.
        assert scores[f"single_{metric}"] == pytest.approx(values.mean(), rel=1e-5)
        assert scores[f"single_{metric}"] < scores[metric]
    middle = generated[:, :, 1:-1].astype(np.float64)
    assert scores["spread"] == pytest.approx(middle.std(axis=1).mean(), rel=1e-5)
    # One sample, or samples all alike, have no spread.
    assert middle_frames.sample_scores(generated[:, :1], real)["spread"] == 0.0
    alike = np.repeat(generated[:, :1], 3, axis=1)
    assert middle_frames.sample_scores(alike, real)["spread"] == 0.0


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
    assert metrics["model_single_ssim"] == pytest.approx(1.0)
    assert metrics["model_psnr"] == np.inf and metrics["model_spread"] == 0.0
    assert set(middle_frames.REFERENCES) == {"crossfade", "repeat", "flow"}
    for reference, (_, method) in middle_frames.REFERENCES.items():
        assert metrics[f"{reference}_ssim"] < 0.95
        videos = method(real[:, 0], real[:, -1], T)
        assert metrics[f"{reference}_ssim"] == pytest.approx(
            float(np.mean(ssim.best_ssim(videos[:, None], real)))
        )
    # Flat metrics are TensorBoard tags and metrics.json keys.
    assert all(re.fullmatch(r"[a-z_]+", name) for name in metrics)


def test_table_and_summary_show_best_of_n_best_of_1_and_spread():
    quality = middle_frames.MiddleFrameQuality(_moving_square(4), num_samples=8)
    model = dict(ssim=0.61, psnr=20.5, single_ssim=0.55, single_psnr=19.25, spread=6.125)
    metrics = {f"model_{m}": v for m, v in model.items()}
    metrics.update({f"old_{m}": v / 2 for m, v in model.items()})
    for index, key in enumerate(middle_frames.REFERENCES):
        metrics.update({f"{key}_ssim": 0.5 + index / 100, f"{key}_psnr": 19.0 + index})
    table = quality.table(metrics, {"an older run": "old"}).splitlines()
    assert table[0] == (
        "| method (4 held-out videos) | best-of-8 SSIM | best-of-8 PSNR (dB) | best-of-1 SSIM "
        "| best-of-1 PSNR (dB) | spread (0-255) |"
    )
    assert table[2] == "| model | 0.610 | 20.50 | 0.550 | 19.25 | 6.12 |"
    # The references are deterministic: best-of-1 is their best-of-N, their spread 0.
    assert table[3:6] == [
        "| cross-fade | 0.500 | 19.00 | 0.500 | 19.00 | 0.00 |",
        "| repeat start, then end | 0.510 | 20.00 | 0.510 | 20.00 | 0.00 |",
        "| optical-flow interpolation | 0.520 | 21.00 | 0.520 | 21.00 | 0.00 |",
    ]
    assert table[6] == "| an older run | 0.305 | 10.25 | 0.275 | 9.62 | 3.06 |"
    summary = quality.summary(metrics)
    assert summary.startswith(
        "best-of-8 SSIM 0.610, PSNR 20.50 dB, best-of-1 0.550, 19.25 dB, spread 6.12; "
    )
    assert summary.endswith("optical-flow interpolation 0.520, 21.00 dB")


def test_table_shows_the_last_weights_beside_their_average():
    quality = middle_frames.MiddleFrameQuality(_moving_square(2), num_samples=2)
    metrics = {
        f"{row}_{m}": 0.5 for row in ("model", "unaveraged") for m in middle_frames.SAMPLE_METRICS
    }
    metrics.update(
        {f"{key}_{m}": 0.25 for key in middle_frames.REFERENCES for m in ("ssim", "psnr")}
    )
    table = quality.table(metrics)
    assert "| model (weight average) | 0.500 |" in table
    assert "| model (last weights) | 0.500 | 0.50 | 0.500 | 0.50 | 0.50 |" in table
    assert "(last weights 0.500, 0.50 dB)" in quality.summary(metrics)


def test_quality_refuses_no_samples():
    with pytest.raises(ValueError, match="num_samples"):
        middle_frames.MiddleFrameQuality(_moving_square(2), num_samples=0)


def test_scores_in_calls_of_a_few_examples_equal_one_call(rng):
    real, generated = _noisy_generations(rng, shape=(5, 3, T, 12, 12, 3))
    whole = middle_frames.generation_scores(generated, real, examples_per_call=5)
    chunked = middle_frames.generation_scores(generated, real, examples_per_call=2)
    for metric in ("ssim", "psnr"):
        # XLA may order a mean's float32 sum differently for another batch shape.
        assert chunked[metric].shape == (5, 3)
        np.testing.assert_allclose(chunked[metric], whole[metric], rtol=1e-5)
    np.testing.assert_allclose(
        middle_frames.pixel_spread(generated, examples_per_call=2),
        middle_frames.pixel_spread(generated, examples_per_call=5),
        rtol=1e-5,
    )
