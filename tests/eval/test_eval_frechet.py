"""Frechet distance: against scipy's sqrtm, and on cases with known answers."""

import numpy as np
import pytest
import scipy.linalg

from inbetweening.eval import frechet


def _scipy_frechet(a, b):
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    cross = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * cross)


@pytest.mark.parametrize("n,m,d", [(50, 60, 8), (300, 200, 20), (40, 40, 64)])
def test_matches_scipy_sqrtm(n, m, d, rng):
    mixing = rng.normal(size=(d, d))
    a = rng.normal(size=(n, d)) @ mixing
    b = rng.normal(size=(m, d)) @ (mixing + 0.3 * rng.normal(size=(d, d))) + 0.5
    expected = _scipy_frechet(a, b)
    assert frechet.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_identical_sets_give_zero(rng):
    a = rng.normal(size=(100, 16)) @ rng.normal(size=(16, 16))
    assert abs(frechet.frechet_distance(a, a)) < 1e-8 * np.trace(np.cov(a, rowvar=False))


def test_shifted_gaussians_give_squared_shift(rng):
    a = rng.normal(size=(500, 10))
    shift = rng.normal(size=10)
    assert frechet.frechet_distance(a, a + shift) == pytest.approx(np.sum(shift**2), rel=1e-6)


def test_rank_deficient_covariances(rng):
    # Fewer samples than dimensions, as with 400-d FVD embeddings of few videos.
    a, b = rng.normal(size=(5, 30)), rng.normal(size=(7, 30)) + 1.0
    assert frechet.frechet_distance(a, b) == pytest.approx(_scipy_frechet(a, b), rel=1e-5)


def test_float32_inputs_are_computed_in_float64(rng):
    a = rng.normal(size=(64, 12)).astype(np.float32)
    b = (rng.normal(size=(64, 12)) + 0.1).astype(np.float32)
    expected = _scipy_frechet(a.astype(np.float64), b.astype(np.float64))
    assert frechet.frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    "a,b",
    [
        (np.zeros((1, 3)), np.zeros((4, 3))),
        (np.zeros((4, 3)), np.zeros((4, 2))),
        (np.zeros(4), np.zeros(4)),
    ],
)
def test_rejects_bad_shapes(a, b):
    with pytest.raises(ValueError):
        frechet.frechet_distance(a, b)
