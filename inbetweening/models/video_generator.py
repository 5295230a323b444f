"""Video generator G_V (Section 3.3, Appendix A): z [B, T', S, S, C] -> video in [-1, 1]."""

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn

from inbetweening.models.departures.key_frame_skips import key_frame_skip
from inbetweening.models.layers import Conv, ConvTranspose, leaky_relu
from inbetweening.models.normalization import BatchNorm

# Layers L3, L5 and L7 up-sample; the others are stride-1 (transposed and regular
# convolutions coincide at stride 1, as Appendix A notes).
UPSAMPLING_LAYERS = (2, 4, 6)


class VideoGenerator(nn.Module):
    """Seven layers; batch norm + leaky ReLU on all but the last, which has a bias and ends
    in tanh (the
    paper names no output activation; tanh matches pixels in [-1, 1]).

    With upsample_time (the naive baseline) the up-sampling layers also double time, with
    kernel 4 and stride 2 on that axis too.

    key_frame_maps (not the paper's; model.key_frame_skips): one (start, end) pair of E's
    feature maps per up-sampling layer, at that layer's input size, coarsest first. Each
    joins the layer's input as key_frame_skip, so appearance need not pass through the
    H/8 latent alone (a U-Net's skips, across time).
    """

    channels: Sequence[int]
    out_channels: int
    upsample_time: bool = False
    conv_impl: str = "fast"
    dtype: Any = jnp.float32
    batch_norm: BatchNorm = BatchNorm()

    @nn.compact
    def __call__(
        self,
        z: jax.Array,
        train: bool,
        key_frame_maps: Sequence[tuple[jax.Array, jax.Array]] = (),
    ) -> jax.Array:
        if key_frame_maps and len(key_frame_maps) != len(UPSAMPLING_LAYERS):
            raise ValueError(
                f"key_frame_maps: one pair per up-sampling layer ({len(UPSAMPLING_LAYERS)}), "
                f"got {len(key_frame_maps)}"
            )
        time_kernel, time_stride = (4, 2) if self.upsample_time else (3, 1)
        all_features = (*self.channels, self.out_channels)
        x = z
        for index, features in enumerate(all_features):
            # The last layer has no norm after it whose offset could serve as its bias.
            last = index == len(all_features) - 1
            if index in UPSAMPLING_LAYERS:
                if key_frame_maps:
                    start_map, end_map = key_frame_maps[UPSAMPLING_LAYERS.index(index)]
                    skip = key_frame_skip(start_map, end_map, x.shape[1]).astype(x.dtype)
                    x = jnp.concatenate([x, skip], axis=-1)
                x = ConvTranspose(
                    features,
                    (time_kernel, 4, 4),
                    strides=(time_stride, 2, 2),
                    padding=(1, 1, 1),
                    use_bias=last,
                    conv_impl=self.conv_impl,
                    dtype=self.dtype,
                )(x)
            else:
                x = Conv(features, (3, 3, 3), conv_impl=self.conv_impl, dtype=self.dtype)(x)
            if not last:
                x = leaky_relu(self.batch_norm(train, self.dtype)(x))
        return nn.tanh(x)
