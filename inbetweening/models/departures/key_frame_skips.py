"""Key-frame skips (not the paper's; model.key_frame_skips): E's feature maps of both key
frames join the inputs of G_V's up-sampling layers, weighted by each step's distance from
either key frame, so that appearance need not pass through the H/8 latent alone (a U-Net's
skips, across time)."""

import jax
import jax.numpy as jnp


def key_frame_skip(start_map: jax.Array, end_map: jax.Array, length: int) -> jax.Array:
    """E's feature maps of the key frames [B, h, w, c] -> [B, length, h, w, 2c]: at step t
    of `length`, (1 - t / (length - 1)) * start_map beside t / (length - 1) * end_map.
    The weights tell each step how far it is from either key frame."""
    weight = jnp.linspace(0.0, 1.0, length, dtype=start_map.dtype)[None, :, None, None, None]
    return jnp.concatenate(
        [(1.0 - weight) * start_map[:, None], weight * end_map[:, None]], axis=-1
    )
