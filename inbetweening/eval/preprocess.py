"""Video preprocessing for the I3D, as google-research's frechet_video_distance does it.

Every frame is resized to 224x224 with TF1 `tf.image.resize_bilinear` (align_corners=False,
half_pixel_centers=False), scaled to [-1, 1]; grayscale is repeated to 3 channels.
"""

import jax
import jax.numpy as jnp
import numpy as np

from inbetweening.data.pixels import UINT8_MAX

I3D_FRAME_SIZE = (224, 224)


def tf1_bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    """[out_size, in_size] interpolation weights of TF1's legacy bilinear resize.

    TF1 samples output pixel i at source coordinate i * in_size / out_size (no half-pixel
    shift), so resized images are shifted against jax.image.resize's half-pixel grid.
    """
    # float32 as in TF's kernel (scale = float(in) / out; source = float(i) * scale), so the
    # source positions round exactly as TF's do.
    scale = np.float32(in_size) / np.float32(out_size)
    source = np.arange(out_size, dtype=np.float32) * scale
    lower = np.floor(source).astype(np.int64)
    upper = np.minimum(lower + 1, in_size - 1)
    upper_weight = source - lower
    matrix = np.zeros((out_size, in_size), np.float64)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, lower), 1.0 - upper_weight)
    np.add.at(matrix, (rows, upper), upper_weight)
    return matrix.astype(np.float32)


def resize_bilinear_tf1(frames: jax.Array, size: tuple[int, int]) -> jax.Array:
    """TF1 `resize_bilinear` of frames [..., H, W, C] to [..., size[0], size[1], C], float32."""
    rows = tf1_bilinear_matrix(frames.shape[-3], size[0])
    cols = tf1_bilinear_matrix(frames.shape[-2], size[1])
    frames = frames.astype(jnp.float32)
    # HIGHEST: TPUs and GPUs would otherwise round the weights to bfloat16 / TF32.
    highest = jax.lax.Precision.HIGHEST
    frames = jnp.einsum("oh,...hwc->...owc", rows, frames, precision=highest)
    return jnp.einsum("pw,...owc->...opc", cols, frames, precision=highest)


def to_i3d_input(videos: jax.Array, frame_size: tuple[int, int] = I3D_FRAME_SIZE) -> jax.Array:
    """Videos [N, T, H, W, C] -> I3D input [N, T, 224, 224, 3] float32 in [-1, 1].

    `videos`: uint8 in 0..255, or float in [-1, 1] (the project's two conventions);
    C is 3 (RGB) or 1 (grayscale, repeated to RGB). `frame_size` is for small test models.
    """
    if videos.shape[-1] not in (1, 3):
        raise ValueError(f"videos need 1 or 3 channels, got shape {videos.shape}")
    resized = resize_bilinear_tf1(videos, frame_size)
    if videos.dtype == jnp.uint8:
        # Resize first, then scale: the order frechet_video_distance uses.
        resized = 2.0 * resized / UINT8_MAX - 1.0
    return jnp.broadcast_to(resized, resized.shape[:-1] + (3,))
