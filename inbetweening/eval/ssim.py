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
        filter_size=FILTER_SIZE,
        filter_sigma=FILTER_SIGMA,
        k1=K1,
        k2=K2,
    )
    return values.reshape(a.shape[:-3])


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
