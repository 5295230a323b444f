"""SSIM against tf.image.ssim, and best-of-generations SSIM."""

import numpy as np
import pytest

from inbetweening.eval import ssim


def _structured_frames(rng, n, size=32):
    """Gradients, stripes and a square, plus a noisy copy: SSIM well inside (0, 1)."""
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack([x, 0.5 + 0.5 * np.sin(12 * y), ((x > 0.3) & (y < 0.6)).astype(float)], -1)
    frames = np.stack([np.roll(base, shift, axis=1) for shift in range(n)])
    noisy = np.clip(frames + 0.1 * rng.normal(size=frames.shape), 0, 1)
    return (frames * 255).round().astype(np.uint8), (noisy * 255).round().astype(np.uint8)


@pytest.mark.parametrize("kind", ["random", "structured"])
def test_matches_tensorflow(tf, kind, rng):
    if kind == "random":
        a = rng.integers(0, 256, (4, 24, 40, 3), dtype=np.uint8)
        b = np.clip(a + rng.normal(0, 40, a.shape), 0, 255).astype(np.uint8)
    else:
        a, b = _structured_frames(rng, 4)
    expected = tf.image.ssim(a.astype(np.float32) / 255, b.astype(np.float32) / 255, 1.0).numpy()
    np.testing.assert_allclose(np.asarray(ssim.ssim(a, b)), expected, atol=1e-5)
    # uint8 through max_val 255 gives the same in TF.
    np.testing.assert_allclose(tf.image.ssim(a, b, 255).numpy(), expected, atol=1e-5)
    # The model's [-1, 1] floats are compared as [0, 1].
    a_float, b_float = a / 127.5 - 1, b / 127.5 - 1
    np.testing.assert_allclose(np.asarray(ssim.ssim(a_float, b_float)), expected, atol=1e-5)


def test_grayscale_matches_tensorflow(tf, rng):
    a = rng.integers(0, 256, (3, 16, 16, 1), dtype=np.uint8)
    b = rng.integers(0, 256, (3, 16, 16, 1), dtype=np.uint8)
    np.testing.assert_allclose(
        np.asarray(ssim.ssim(a, b)), tf.image.ssim(a, b, 255).numpy(), atol=1e-5
    )


def test_best_ssim_over_generations_on_intermediate_frames(tf, rng):
    num_pairs, num_generations, num_frames = 2, 3, 5
    real = rng.integers(0, 256, (num_pairs, num_frames, 16, 16, 3), dtype=np.uint8)
    noise = rng.normal(0, 1, (num_pairs, num_generations) + real.shape[1:])
    generated = np.clip(
        real[:, None] + noise * np.array([20, 60, 120])[:, None, None, None, None], 0, 255
    ).astype(np.uint8)
    # Key frames equal to the real ones must not count: make generation 2's key frames exact.
    generated[:, 2, [0, -1]] = real[:, [0, -1]]
    expected = np.zeros(num_pairs)
    for n in range(num_pairs):
        per_generation = [
            tf.image.ssim(generated[n, g, 1:-1], real[n, 1:-1], 255).numpy().mean()
            for g in range(num_generations)
        ]
        expected[n] = max(per_generation)
    actual = np.asarray(ssim.best_ssim(generated, real))
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    assert actual.shape == (num_pairs,)


def test_best_ssim_of_an_exact_generation_is_one(rng):
    real = rng.integers(0, 256, (2, 6, 16, 16, 3), dtype=np.uint8)
    generated = np.stack([255 - real, real], axis=1)
    np.testing.assert_allclose(np.asarray(ssim.best_ssim(generated, real)), 1.0, atol=1e-6)


def test_best_ssim_in_calls_of_a_few_examples_equals_one_call(rng):
    real = rng.integers(0, 256, (7, 5, 16, 16, 3), dtype=np.uint8)
    generated = np.clip(real[:, None] + rng.normal(0, 30, (7, 2, *real.shape[1:])), 0, 255).astype(
        np.uint8
    )
    whole = ssim.best_ssim(generated, real, examples_per_call=7)
    # XLA may order a mean's float32 sum differently for another batch shape: rounding only.
    np.testing.assert_allclose(
        ssim.best_ssim(generated, real, examples_per_call=3), whole, rtol=1e-6
    )
    assert whole.shape == (7,) and np.all((whole > 0) & (whole < 1))
