"""The two conversions between stored pixels (uint8 0..255) and model values ([-1, 1])."""
import jax.numpy as jnp
import numpy as np


def to_model_range(pixels):
    """uint8 0..255 -> float32 [-1, 1]."""
    return jnp.asarray(pixels, jnp.float32) / 127.5 - 1.0


def to_uint8(values) -> np.ndarray:
    """float [-1, 1] -> uint8 0..255 (rounded, clipped), as a host numpy array."""
    return np.asarray(jnp.clip(jnp.round((jnp.asarray(values) + 1.0) * 127.5), 0, 255),
                      dtype=np.uint8)
