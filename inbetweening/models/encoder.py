"""Image encoder E (Section 3.1, Appendix A): frame [B, H, W, C_img] -> [B, H/8, W/8, C],
with the feature maps it passes through on the way (for G_V's key-frame skips)."""

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn

from inbetweening.models.layers import Conv, leaky_relu

# TensorFlow's (and Flax's) default; the paper's TensorFlow code would have used it.
BATCH_NORM_MOMENTUM = 0.99


def batch_norm(
    train: bool, dtype: Any, momentum: float, scale_init=nn.initializers.ones
) -> nn.BatchNorm:
    """The generator's normalisation (every 2D/3D convolution of E, G_Z and G_V). Output
    in `dtype`; flax computes the statistics in float32 whatever the input's dtype.
    `momentum`: the running averages' decay per training step."""
    return nn.BatchNorm(
        use_running_average=not train,
        momentum=momentum,
        epsilon=1e-5,
        dtype=dtype,
        scale_init=scale_init,
    )


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
    batch_norm_momentum: float = BATCH_NORM_MOMENTUM

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
            x = leaky_relu(batch_norm(train, self.dtype, self.batch_norm_momentum)(conv(x)))
            if index % 2 == 1:
                feature_maps.append(x)
        x = Conv(self.latent_channels, (3, 3), conv_impl=self.conv_impl, dtype=self.dtype)(x)
        encoding = leaky_relu(batch_norm(train, self.dtype, self.batch_norm_momentum)(x))
        return encoding, tuple(feature_maps)
