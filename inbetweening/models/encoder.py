"""Image encoder E (Section 3.1, Appendix A): frame [B, H, W, C_img] -> [B, H/8, W/8, C],
with the feature maps it passes through on the way (for G_V's key-frame skips)."""

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn

from inbetweening.models.layers import Conv, leaky_relu
from inbetweening.models.normalization import BatchNorm


class ImageEncoder(nn.Module):
    """Six layers alternating 4x4 stride-2 and 3x3 convolutions, then a 3x3 convolution
    to `latent_channels`; batch norm and leaky ReLU after each.

    Returns (encoding [B, H/8, W/8, C], feature_maps): the outputs of the 3x3
    layers, finest first ([B, H/2, W/2, c1], [B, H/4, W/4, c3], [B, H/8, W/8, c5] with
    the paper's six layers), each after its norm and activation."""

    channels: Sequence[int]
    latent_channels: int
    conv_impl: str = "fast"
    dtype: Any = jnp.float32
    batch_norm: BatchNorm = BatchNorm()

    @nn.compact
    def __call__(self, frames: jax.Array, train: bool) -> tuple[jax.Array, tuple[jax.Array, ...]]:
        x = frames
        feature_maps = []
        for index, features in enumerate(self.channels):
            if index % 2 == 0:
                conv = Conv(
                    features,
                    (4, 4),
                    strides=(2, 2),
                    padding=((1, 1), (1, 1)),
                    conv_impl=self.conv_impl,
                    dtype=self.dtype,
                )
            else:
                conv = Conv(features, (3, 3), conv_impl=self.conv_impl, dtype=self.dtype)
            x = leaky_relu(self.batch_norm(train, self.dtype)(conv(x)))
            if index % 2 == 1:
                feature_maps.append(x)
        x = Conv(self.latent_channels, (3, 3), conv_impl=self.conv_impl, dtype=self.dtype)(x)
        encoding = leaky_relu(self.batch_norm(train, self.dtype)(x))
        return encoding, tuple(feature_maps)
