"""SSIM as `tf.image.ssim` computes it (through dm-pix), and the paper's best-of-N SSIM.

Frames are compared in [0, 1] with max_val 1 (SSIM is not shift invariant, so the value range
matters): inputs are uint8 0..255 or float in [-1, 1], the project's conventions.
"""

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np

from inbetweening.data.pixels import UINT8_MAX
from inbetweening.eval import chunks

# tf.image.ssim's defaults.
FILTER_SIZE = 11
FILTER_SIGMA = 1.5
K1 = 0.01
K2 = 0.03


def to_unit_range(frames: jax.Array) -> jax.Array:
    """uint8 0..255 or float [-1, 1] -> float32 [0, 1]."""
    if frames.dtype == jnp.uint8:
        return frames.astype(jnp.float32) / UINT8_MAX
    return (frames.astype(jnp.float32) + 1.0) / 2.0


def ssim(a: jax.Array, b: jax.Array) -> jax.Array:
    """SSIM of frames [..., H, W, C] (H, W >= 11), averaged over pixels and channels -> [...].

    Leading axes broadcast against each other.
    """
    a, b = jnp.broadcast_arrays(to_unit_range(a), to_unit_range(b))
    frame_shape = a.shape[-3:]
    # dm-pix takes a single batch axis.
    values = dm_pix.ssim(
        a.reshape((-1,) + frame_shape),
        b.reshape((-1,) + frame_shape),
        max_val=1.0,
        k1=K1,
        k2=K2,
        filter_fn=_gaussian_blur,
    )
    return values.reshape(a.shape[:-3])


def _gaussian_blur(frames: jax.Array) -> jax.Array:
    """[N, H, W, C] -> [N, H - 10, W - 10, C]: tf.image.ssim's 11-tap Gaussian (sigma 1.5),
    'valid', along H then W, each a product with a banded matrix: ~8x faster on a CPU than
    dm-pix's own filter (a 1D convolution per row), equal to it up to float32 rounding."""
    height, width = frames.shape[-3:-1]
    blurred = jnp.einsum("yh,nhwc->nywc", _blur_matrix(height), frames, precision="highest")
    return jnp.einsum("xw,nywc->nyxc", _blur_matrix(width), blurred, precision="highest")


def _blur_matrix(size: int) -> np.ndarray:
    """[size - 10, size]: row i holds the normalised Gaussian taps at columns i .. i + 10."""
    taps = np.exp(-0.5 * ((np.arange(FILTER_SIZE) - FILTER_SIZE // 2) / FILTER_SIGMA) ** 2)
    matrix = np.zeros((size - FILTER_SIZE + 1, size), np.float32)
    for row in range(len(matrix)):
        matrix[row, row : row + FILTER_SIZE] = taps / taps.sum()
    return matrix


def best_ssim(
    generated: np.ndarray, real: np.ndarray, examples_per_call: int | None = None
) -> np.ndarray:
    """Per test example, the best SSIM over its generations -> float32 [N].

    `generated`: uint8 [N, G, T, H, W, C], G generations per pair of key frames; `real`:
    [N, T, H, W, C]. A generation's SSIM is the mean over the intermediate frames 1..T-2 (the
    key frames are given, not generated). Computed in calls of `examples_per_call` examples
    (default: chunks.map_examples'), so memory stays bounded for any N.
    """
    return chunks.map_examples(_best_ssim, generated, real, examples_per_call=examples_per_call)


@jax.jit
def _best_ssim(generated: jax.Array, real: jax.Array) -> jax.Array:
    """best_ssim of one call's examples."""
    intermediate = slice(1, -1)
    per_frame = ssim(generated[:, :, intermediate], real[:, None, intermediate])
    return jnp.max(jnp.mean(per_frame, axis=-1), axis=1)
