"""The generator G = {E, G_Z, G_V}: (start, end, u) -> video whose first and last frames
are the real key frames (Section 3)."""

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn

from inbetweening.models.departures import voxel_flow
from inbetweening.models.encoder import ImageEncoder
from inbetweening.models.latent_generator import LatentGenerator
from inbetweening.models.normalization import BatchNorm
from inbetweening.models.video_generator import VideoGenerator

VARIANTS = ("full", "no_fusion", "naive")
FRAME_HEADS = ("pixels", "voxel_flow")


class Generator(nn.Module):
    """Variants (Section 4.2): "full"; "no_fusion" (z_in = z(l-1) + n(l)); "naive" (no G_Z:
    z(0) plus a spatially uniform learned map of u, decoded with time up-sampling).

    key_frame_skips (not the paper's): E's feature maps of the key frames also reach G_V's
    up-sampling layers (VideoGenerator), in every variant.

    frame_head: "pixels" (the paper's: G_V draws every pixel) or "voxel_flow" (not the
    paper's: G_V draws flows into the key frames and a blending mask, models/voxel_flow.py).
    """

    num_frames: int
    image_channels: int
    noise_dim: int
    latent_channels: int
    num_latent_blocks: int
    encoder_channels: Sequence[int]
    video_generator_channels: Sequence[int]
    variant: str = "full"
    conv_impl: str = "fast"
    dtype: Any = jnp.float32  # of activations and convolutions; parameters are float32
    remat_latent_blocks: bool = False
    batch_norm: BatchNorm = BatchNorm()
    latent_blocks_start_as_identity: bool = False
    key_frame_skips: bool = False
    frame_head: str = "pixels"

    @nn.compact
    def __call__(
        self, start: jax.Array, end: jax.Array, noise: jax.Array, train: bool = False
    ) -> jax.Array:
        """start, end: [B, H, W, C] in [-1, 1]; noise u: [B, D] -> video [B, T, H, W, C]."""
        batch = start.shape[0]
        encoder = ImageEncoder(
            self.encoder_channels,
            self.latent_channels,
            self.conv_impl,
            self.dtype,
            self.batch_norm,
        )
        # One pass over both key frames: E is shared, and its batch statistics cover both.
        encodings, feature_maps = encoder(jnp.concatenate([start, end], axis=0), train)
        start_encoding, end_encoding = encodings[:batch], encodings[batch:]
        # G_V's up-sampling layers take sizes H/8, H/4, H/2: E's maps coarsest first.
        key_frame_maps = (
            [(maps[:batch], maps[batch:]) for maps in reversed(feature_maps)]
            if self.key_frame_skips
            else ()
        )
        if self.variant == "naive":
            noise_map = nn.Dense(2 * self.latent_channels, dtype=self.dtype, name="noise_map")(
                noise
            )
            z = jnp.stack([start_encoding, end_encoding], axis=1)
            z = z + noise_map.reshape(batch, 2, 1, 1, self.latent_channels)
        else:
            z = LatentGenerator(
                self.num_frames,
                self.num_latent_blocks,
                fusion=self.variant == "full",
                conv_impl=self.conv_impl,
                dtype=self.dtype,
                remat_blocks=self.remat_latent_blocks,
                batch_norm=self.batch_norm,
                blocks_start_as_identity=self.latent_blocks_start_as_identity,
            )(start_encoding, end_encoding, noise, train)
        if self.frame_head not in FRAME_HEADS:
            raise ValueError(f"frame_head {self.frame_head!r}: must be one of {FRAME_HEADS}")
        pixels = self.frame_head == "pixels"
        video = VideoGenerator(
            self.video_generator_channels,
            self.image_channels if pixels else voxel_flow.CHANNELS,
            upsample_time=self.variant == "naive",
            conv_impl=self.conv_impl,
            dtype=self.dtype,
            batch_norm=self.batch_norm,
        )(z, train, key_frame_maps)
        if not pixels:
            video = voxel_flow.synthesize(start.astype(video.dtype), end.astype(video.dtype), video)
        # float32 out whatever the compute dtype: the key frames are passed through exactly.
        return jnp.concatenate(
            [start[:, None], video[:, 1:-1].astype(start.dtype), end[:, None]], axis=1
        )
