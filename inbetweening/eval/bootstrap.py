"""Percentile bootstrap confidence intervals, reproducible from a fixed seed."""

from typing import Callable, NamedTuple

import numpy as np

CONFIDENCE = 0.95
SEED = 0


class Interval(NamedTuple):
    estimate: float  # the statistic of the samples themselves
    low: float
    high: float


def bootstrap_interval(
    samples: np.ndarray,
    num_resamples: int,
    statistic: Callable[[np.ndarray], np.ndarray] = lambda x: np.mean(x, axis=-1),
    confidence: float = CONFIDENCE,
    seed: int = SEED,
) -> Interval:
    """Percentile interval of `statistic` over `num_resamples` resamples with replacement.

    `samples`: [n] (e.g. one FVD per training run and generation round, or one SSIM per test
    example). `statistic` maps [..., n] -> [...]; the default is the mean.
    """
    samples = np.asarray(samples, np.float64)
    if samples.ndim != 1 or len(samples) < 2:
        raise ValueError(f"samples must be [n >= 2], got shape {samples.shape}")
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, len(samples), size=(num_resamples, len(samples)))
    resampled = statistic(samples[indices])
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return Interval(float(statistic(samples)), float(low), float(high))


def mean_interval(samples, num_resamples: int) -> dict:
    """{"mean", "low", "high"} of `samples` [n >= 1]; a single sample is its own interval."""
    samples = np.asarray(samples, np.float64)
    if len(samples) < 2:
        value = float(samples[0])
        return {"mean": value, "low": value, "high": value}
    estimate, low, high = bootstrap_interval(samples, num_resamples)
    return {"mean": estimate, "low": low, "high": high}
