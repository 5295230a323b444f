"""Bootstrap intervals: cover the mean, narrow with more samples, reproducible."""

import numpy as np
import pytest

from inbetweening.eval import bootstrap


def test_interval_covers_the_mean_and_narrows(rng):
    few = rng.normal(5.0, 2.0, size=20)
    many = rng.normal(5.0, 2.0, size=2000)
    few_interval = bootstrap.bootstrap_interval(few, num_resamples=2000)
    many_interval = bootstrap.bootstrap_interval(many, num_resamples=2000)
    for samples, interval in ((few, few_interval), (many, many_interval)):
        assert interval.estimate == pytest.approx(np.mean(samples))
        assert interval.low < np.mean(samples) < interval.high
    assert many_interval.high - many_interval.low < (few_interval.high - few_interval.low) / 5
    # Width near the normal theory's 2 x 1.96 sigma / sqrt(n).
    assert many_interval.high - many_interval.low == pytest.approx(
        2 * 1.96 * np.std(many) / np.sqrt(len(many)), rel=0.15
    )


def test_fixed_seed_is_reproducible(rng):
    samples = rng.uniform(size=50)
    first = bootstrap.bootstrap_interval(samples, num_resamples=500)
    assert bootstrap.bootstrap_interval(samples, num_resamples=500) == first
    assert bootstrap.bootstrap_interval(samples, num_resamples=500, seed=1) != first


def test_custom_statistic(rng):
    samples = rng.exponential(size=200)
    interval = bootstrap.bootstrap_interval(
        samples, num_resamples=1000, statistic=lambda x: np.median(x, axis=-1)
    )
    assert interval.estimate == pytest.approx(np.median(samples))
    assert interval.low < interval.estimate < interval.high
