"""Pixel conversions: stored pixels (uint8 0..255) to and from model values ([-1, 1]), and
between colour modes."""

import jax.numpy as jnp
import numpy as np

UINT8_MAX = 255.0


def to_model_range(pixels):
    """uint8 (or float) 0..255 -> float32 [-1, 1]."""
    return jnp.asarray(pixels, jnp.float32) / (UINT8_MAX / 2) - 1.0


def to_pixel_range(values):
    """float [-1, 1] -> float32 0..255, clipped, not rounded (traceable)."""
    return jnp.clip((jnp.asarray(values, jnp.float32) + 1.0) * (UINT8_MAX / 2), 0.0, UINT8_MAX)


def to_uint8(values) -> np.ndarray:
    """float [-1, 1] -> uint8 0..255 (rounded, clipped), as a host numpy array."""
    return np.asarray(jnp.round(to_pixel_range(values)), dtype=np.uint8)


# ITU-R 601 luma (0.299, 0.587, 0.114) in PIL's 16-bit fixed point: a frame converted
# here and one converted by PIL's convert("L") agree exactly.
_LUMA_WEIGHTS = np.array([19595, 38470, 7471])


def convert_channels(frame: np.ndarray, channels: int) -> np.ndarray:
    """uint8 [H, W, C] with C in 1-4 (gray, gray + alpha, RGB, RGBA) -> [H, W, channels]
    (1 or 3): alpha dropped, gray repeated into RGB, RGB to gray by luma."""
    if frame.shape[-1] in (2, 4):
        frame = frame[..., :-1]
    if frame.shape[-1] == channels:
        return frame
    if channels == 3:
        return np.repeat(frame, 3, axis=-1)
    luma = (frame.astype(np.int64) @ _LUMA_WEIGHTS + (1 << 15)) >> 16
    return luma.astype(np.uint8)[..., None]
