"""A voxel-flow frame head (not the paper's; model.frame_head = "voxel_flow"): each middle
frame is drawn by sampling the key frames where per-pixel flows point, blended by a
per-pixel mask, as in Deep Voxel Flow (Liu et al., 2017) and Super SloMo (Jiang et al.,
2018). Pixels are copied, so the objects keep their shapes wherever they travel; G_V's
coarse latent only has to say where each pixel comes from, which is smooth."""

import jax
import jax.numpy as jnp

# G_V's outputs per pixel: a flow into the start frame (dy, dx), one into the end frame,
# and the start frame's weight.
CHANNELS = 5


def backward_warp(frames: jax.Array, flow: jax.Array) -> jax.Array:
    """frames [B, H, W, C], flow [B, T, H, W, 2] ((dy, dx) in pixels) -> [B, T, H, W, C]:
    output[b, t, y, x] is frames[b] sampled bilinearly at (y + dy, x + dx), positions
    clamped to the frame (scipy.ndimage.map_coordinates' order 1, mode "nearest")."""
    batch, height, width, channels = frames.shape
    rows = jnp.arange(height, dtype=flow.dtype)[:, None]
    columns = jnp.arange(width, dtype=flow.dtype)[None, :]
    y = jnp.clip(rows + flow[..., 0], 0, height - 1)
    x = jnp.clip(columns + flow[..., 1], 0, width - 1)
    y0 = jnp.clip(jnp.floor(y), 0, height - 2).astype(jnp.int32)
    x0 = jnp.clip(jnp.floor(x), 0, width - 2).astype(jnp.int32)
    wy = (y - y0)[..., None]
    wx = (x - x0)[..., None]
    flat = frames.reshape(batch, height * width, channels)

    def gather(row, column):
        index = (row * width + column).reshape(batch, -1, 1)
        return jnp.take_along_axis(flat, index, axis=1).reshape(*flow.shape[:-1], channels)

    top = (1 - wx) * gather(y0, x0) + wx * gather(y0, x0 + 1)
    bottom = (1 - wx) * gather(y0 + 1, x0) + wx * gather(y0 + 1, x0 + 1)
    return (1 - wy) * top + wy * bottom


def synthesize(start: jax.Array, end: jax.Array, head: jax.Array) -> jax.Array:
    """start, end [B, H, W, C]; head [B, T, H, W, 5] in [-1, 1] (G_V's tanh output) ->
    frames [B, T, H, W, C]: mask * warp(start) + (1 - mask) * warp(end). A head of 0
    (flows 0, mask 1/2) gives the mean of the key frames; a flow of +-1 reaches across
    the whole frame."""
    size = jnp.asarray(start.shape[1:3], head.dtype)
    start_flow = head[..., 0:2] * size
    end_flow = head[..., 2:4] * size
    mask = (head[..., 4:5] + 1) / 2
    return mask * backward_warp(start, start_flow) + (1 - mask) * backward_warp(end, end_flow)
