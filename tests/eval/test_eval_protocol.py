"""The evaluation protocol: reference methods, per-round FVD, diversity, best-of SSIM."""

import jax
import numpy as np
import pytest
import scipy.linalg

from inbetweening.eval import protocol, tables
from inbetweening.eval.validation import split_videos

import tiny_setup

T, N, SIZE = 16, 6, 16


def _videos(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (N, T, SIZE, SIZE, 3), dtype=np.uint8)


def _embed(videos: np.ndarray) -> np.ndarray:
    """A cheap deterministic stand-in for I3D: mean pixel values of 4 time x 2 channel blocks."""
    v = videos.astype(np.float64)
    return v.reshape(len(v), 4, T // 4, -1, 3)[..., :2].mean(axis=(2, 3)).reshape(len(v), -1)


def _scipy_frechet(a: np.ndarray, b: np.ndarray) -> float:
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * root))


def test_the_real_videos_score_perfectly():
    real = _videos(0)
    methods = {"oracle": (lambda s, e, key: real, 3)}
    result = protocol.evaluate_methods(real, methods, _embed, 100, jax.random.PRNGKey(0))
    oracle = result["oracle"]
    assert oracle["fvd"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert oracle["ssim"]["mean"] == pytest.approx(1.0, abs=1e-6)
    assert oracle["diversity"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert oracle["num_generations"] == 3


def test_fvd_is_per_round_and_diversity_per_pair():
    real, fakes = _videos(0), [_videos(1), _videos(2)]
    method = lambda s, e, key: fakes[int(jax.random.randint(key, (), 0, 1000)) % 2]
    keys = [jax.random.fold_in(jax.random.PRNGKey(7), r) for r in range(2)]
    rounds = [fakes[int(jax.random.randint(k, (), 0, 1000)) % 2] for k in keys]
    result = protocol.method_metrics(
        real, method, 2, _embed(real), _embed, 50, jax.random.PRNGKey(7)
    )
    expected_fvds = [_scipy_frechet(_embed(real), _embed(v)) for v in rounds]
    assert result["fvd"]["mean"] == pytest.approx(np.mean(expected_fvds), rel=1e-4)
    a, b = _embed(rounds[0]), _embed(rounds[1])
    cosine = np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert result["diversity"]["mean"] == pytest.approx(np.mean(1 - cosine), rel=1e-6)
    assert result["fvd"]["low"] <= result["fvd"]["mean"] <= result["fvd"]["high"]
    # The raw values behind the summaries, kept for eval.aggregate.
    raw = result["raw"]
    np.testing.assert_allclose(raw["fvd_per_round"], expected_fvds, rtol=1e-4)
    np.testing.assert_allclose(raw["diversity_per_pair"], 1 - cosine, rtol=1e-6)
    assert len(raw["best_ssim_per_example"]) == len(real)
    assert np.mean(raw["best_ssim_per_example"]) == pytest.approx(result["ssim"]["mean"])


def test_reference_rows_and_table():
    real = _videos(3)
    result = protocol.evaluate_methods(
        real, protocol.reference_methods(T), _embed, 100, jax.random.PRNGKey(0)
    )
    assert set(result) == {"cross-fade", "repeat start, then end", "optical-flow interpolation"}
    for metrics in result.values():
        assert metrics["num_generations"] == 1 and metrics["diversity"]["mean"] == 0.0
        assert 0.0 < metrics["ssim"]["mean"] < 1.0 and metrics["fvd"]["mean"] > 0.0
    table = tables.markdown_table(result, "synthetic, test split", "3 test videos")
    for label in result:
        assert f"| {label} |" in table
    assert table.count("\n|") == 5  # header, separator, three rows


def test_fewer_than_two_videos_is_refused():
    real = _videos(0)[:1]
    with pytest.raises(ValueError, match="at least 2 test videos"):
        protocol.evaluate_methods(
            real, protocol.reference_methods(T), _embed, 10, jax.random.PRNGKey(0)
        )


def test_split_videos_takes_the_first_num_videos_of_the_whole_split():
    config = tiny_setup.tiny_config(4)
    config.data.num_eval_videos = 10
    whole = split_videos(config, "test")
    assert whole.shape[0] == 10
    np.testing.assert_array_equal(split_videos(config, "test", 6), whole[:6])
    np.testing.assert_array_equal(split_videos(config, "test", 0), whole)
