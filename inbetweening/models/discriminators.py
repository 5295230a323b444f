"""Video discriminator D_V (MoCoGAN-style) and image discriminator D_I (ResNet-style),
Appendix A. Both return the pre-sigmoid logit [B]; the sigmoid lives in the losses.

Layer norm normalises each example over all its positions and channels, with a learned
per-channel scale and offset, so an example's logit never depends on the rest of the batch
(the gradient penalty differentiates per example).
"""
from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn

from inbetweening.models.layers import Conv, leaky_relu


def layer_norm(x: jax.Array) -> jax.Array:
    """Output in x's dtype; flax computes the statistics in float32 whatever that is."""
    return nn.LayerNorm(reduction_axes=tuple(range(1, x.ndim)), feature_axes=-1,
                        dtype=x.dtype)(x)


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

    @nn.compact
    def __call__(self, video: jax.Array) -> jax.Array:
        x = video
        for features in self.channels:
            x = Conv(features, (4, 4, 4), strides=(1, 2, 2),
                     padding=((0, 0), (1, 1), (1, 1)), conv_impl=self.conv_impl,
                     dtype=self.dtype)(x)
            x = leaky_relu(layer_norm(x))
        return _logit(x)


class ImageDiscriminator(nn.Module):
    """L1: 3x3 convolution to the image's own channel count; then per stage a 4x4 stride-2
    convolution plus Shortcut(previous) = 1x1 conv of a 2x2 average pool, followed (except
    in the last stage) by a 3x3 convolution; then a dense layer to one logit.

    The shortcut takes the previous layer's output: Appendix A's Shortcut(x) cannot be the
    input image, whose size differs from L4 on (PAPER_NOTES.md).
    """

    channels: Sequence[int]
    conv_impl: str = "fast"
    dtype: Any = jnp.float32

    @nn.compact
    def __call__(self, frames: jax.Array) -> jax.Array:
        x = Conv(frames.shape[-1], (3, 3), conv_impl=self.conv_impl, dtype=self.dtype)(frames)
        x = leaky_relu(layer_norm(x))
        for index, features in enumerate(self.channels):
            down = Conv(features, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)),
                        conv_impl=self.conv_impl, dtype=self.dtype)(x)
            shortcut = Conv(features, (1, 1), conv_impl=self.conv_impl, dtype=self.dtype)(
                nn.avg_pool(x, (2, 2), strides=(2, 2)))
            x = leaky_relu(layer_norm(down + shortcut))
            if index < len(self.channels) - 1:
                x = Conv(features, (3, 3), conv_impl=self.conv_impl, dtype=self.dtype)(x)
                x = leaky_relu(layer_norm(x))
        return _logit(x)
