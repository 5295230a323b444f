"""Video discriminator D_V (MoCoGAN-style) and image discriminator D_I (ResNet-style),
Appendix A. Both return the pre-sigmoid logit [B]; the sigmoid lives in the losses.

Layer norm normalises each example over all its positions and channels, with a learned
per-channel scale and offset, so an example's logit never depends on the rest of the batch
(the gradient penalty differentiates per example).
"""

import functools
from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn

from inbetweening.models.layers import Conv, leaky_relu
from inbetweening.models.normalization import layer_norm


def _logit(x: jax.Array) -> jax.Array:
    """[B, ...] -> logit [B] in at least float32: the losses and the gradient penalty
    reduce logits, so they leave a lower compute dtype before any reduction."""
    logits = nn.Dense(1, dtype=x.dtype)(x.reshape(x.shape[0], -1))[:, 0]
    return logits.astype(jnp.promote_types(x.dtype, jnp.float32))


class VideoDiscriminator(nn.Module):
    """Four 4x4x4 convolutions, stride (1, 2, 2), padding (0, 1, 1): time T -> T - 12,
    space / 16; then a dense layer to one logit. Input video [B, T, H, W, C] in [-1, 1]."""

    channels: Sequence[int]
    conv_impl: str = "fast"
    dtype: Any = jnp.float32
    layer_norm_epsilon: float = 1e-12

    @nn.compact
    def __call__(self, video: jax.Array) -> jax.Array:
        x = video
        for features in self.channels:
            x = Conv(
                features,
                (4, 4, 4),
                strides=(1, 2, 2),
                padding=((0, 0), (1, 1), (1, 1)),
                conv_impl=self.conv_impl,
                dtype=self.dtype,
            )(x)
            x = leaky_relu(layer_norm(x, self.layer_norm_epsilon))
        return _logit(x)


SHORTCUTS = ("block_input", "previous_layer")


class ImageDiscriminator(nn.Module):
    """Four residual blocks, then a dense layer to one logit. Block k (Appendix A's
    {L1, L2}, {L3, L4}, {L5, L6}, {L7, L8}): a 3x3 convolution keeping the channel count,
    then a 4x4 stride-2 convolution to `channels[k]`, plus Shortcut = 1x1 convolution of a
    2x2 average pool; layer norm and leaky ReLU after every convolution (after the sum for
    the stride-2 one).

    `shortcut` names what the shortcut reads: "block_input" (the block's input, the
    discriminator's input x for the first block, as Appendix A writes
    L2 = Conv(L1) + Shortcut(x), and as ResNet discriminators do) or "previous_layer" (the
    3x3 convolution's output: each residual then spans one strided convolution). The
    parameter shapes and names are the same either way.
    """

    channels: Sequence[int]
    conv_impl: str = "fast"
    dtype: Any = jnp.float32
    shortcut: str = "block_input"
    layer_norm_epsilon: float = 1e-12

    @nn.compact
    def __call__(self, frames: jax.Array) -> jax.Array:
        if self.shortcut not in SHORTCUTS:
            raise ValueError(
                f"image discriminator shortcut {self.shortcut!r}: must be one of {SHORTCUTS}"
            )
        conv = functools.partial(Conv, conv_impl=self.conv_impl, dtype=self.dtype)
        x = block_input = frames
        for features in self.channels:
            x = leaky_relu(layer_norm(conv(x.shape[-1], (3, 3))(x), self.layer_norm_epsilon))
            shortcut_source = block_input if self.shortcut == "block_input" else x
            down = conv(features, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)))(x)
            shortcut = conv(features, (1, 1))(nn.avg_pool(shortcut_source, (2, 2), strides=(2, 2)))
            x = block_input = leaky_relu(layer_norm(down + shortcut, self.layer_norm_epsilon))
        return _logit(x)
