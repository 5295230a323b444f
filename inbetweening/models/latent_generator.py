"""Latent representation generator G_Z (Section 3.2, eq. 1-6).

z(0) = (E(xs), E(xe)) is up-sampled in time (nearest) to T/4, T/2 and T before each third of
the L residual blocks; each block fuses the key-frame encodings into z with gates driven by
the noise u.
"""

from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from inbetweening.models.layers import Conv, leaky_relu
from inbetweening.models.normalization import BatchNorm


def fuse(
    previous: jax.Array,
    start_encoding: jax.Array,
    end_encoding: jax.Array,
    start_gate: jax.Array,
    end_gate: jax.Array,
    noise: jax.Array,
) -> jax.Array:
    """Stochastic fusion, eq. 4 (with g_e on E(x_e): the paper's "g_s * E(x_e)" is a typo).

    previous: z(l-1) [B, T, S, S, C]; start/end_encoding: [B, S, S, C], broadcast over time;
    start/end_gate, noise: [B, T, C], broadcast over space.
    """
    over_space = lambda a: a[:, :, None, None, :]
    over_time = lambda a: a[:, None]
    start_gate, end_gate = over_space(start_gate), over_space(end_gate)
    return (
        start_gate * over_time(start_encoding)
        + end_gate * over_time(end_encoding)
        + jnp.maximum(0.0, 1.0 - start_gate - end_gate) * previous
        + over_space(noise)
    )


def upsample_time(z: jax.Array, length: int) -> jax.Array:
    """Nearest-neighbour resampling of z [B, T0, ...] to [B, length, ...]: for length = 2 T0
    every step is repeated, as the paper's (E(xs), E(xs), E(xe), E(xe))."""
    steps = z.shape[1]
    # Static slices and broadcasts rather than a gather, whose gradient is a slow scatter.
    counts = [sum(1 for t in range(length) if t * steps // length == s) for s in range(steps)]
    return jnp.concatenate(
        [
            jnp.broadcast_to(z[:, s : s + 1], (z.shape[0], count, *z.shape[2:]))
            for s, count in enumerate(counts)
        ],
        axis=1,
    )


class LatentBlock(nn.Module):
    """Residual block G(l), eq. 1-5: z(l) = h(z(l-1) + BN(h(BN(z_in * k1)) * k2)).

    The biases b1, b2 of eq. 5 are the batch norms' offsets. With start_as_identity the
    second norm's scale starts at 0, so that at initialisation z(l) = h(z(l-1)) (an
    initialisation the paper leaves open; Goyal et al. 2017).
    """

    fusion: bool = True
    conv_impl: str = "fast"
    dtype: Any = jnp.float32
    batch_norm: BatchNorm = BatchNorm()
    start_as_identity: bool = False

    @nn.compact
    def __call__(
        self,
        previous: jax.Array,
        start_encoding: jax.Array,
        end_encoding: jax.Array,
        noise: jax.Array,
        train: bool,
    ) -> jax.Array:
        batch, length, _, _, channels = previous.shape
        block_noise = nn.Dense(length * channels, dtype=self.dtype, name="noise_projection")(noise)
        block_noise = block_noise.reshape(batch, length, channels)  # u(l), eq. 1
        temporal_conv = lambda name: nn.Conv(
            channels, (3,), padding="SAME", dtype=self.dtype, name=name
        )
        stochastic_term = temporal_conv("noise_conv")(block_noise)  # n(l)
        if self.fusion:
            start_gate = nn.sigmoid(temporal_conv("start_gate")(block_noise))  # eq. 2
            end_gate = nn.sigmoid(temporal_conv("end_gate")(block_noise))  # eq. 3
            fused = fuse(
                previous, start_encoding, end_encoding, start_gate, end_gate, stochastic_term
            )
        else:
            fused = previous + stochastic_term[:, :, None, None, :]
        x = Conv(channels, (3, 3, 3), conv_impl=self.conv_impl, dtype=self.dtype, name="conv1")(
            fused
        )
        x = leaky_relu(self.batch_norm(train, self.dtype)(x))
        x = Conv(channels, (3, 3, 3), conv_impl=self.conv_impl, dtype=self.dtype, name="conv2")(x)
        scale_init = nn.initializers.zeros if self.start_as_identity else nn.initializers.ones
        x = self.batch_norm(train, self.dtype, scale_init)(x)
        return leaky_relu(previous + x)


class LatentGenerator(nn.Module):
    """G_Z: (E(xs), E(xe), u) -> z [B, T, S, S, C] through `num_blocks` blocks in three
    temporal levels of length T/4, T/2, T.

    The L/3 blocks of a level share their shapes, so each level is one nn.scan over its
    blocks: XLA compiles one block per level instead of L. Parameters and batch statistics
    are stacked per level: "level_k" holds blocks kL/3..(k+1)L/3-1 along a leading axis
    (config.migration.stack_latent_blocks converts the unrolled tree of earlier versions).

    With remat_blocks each block's activations are recomputed in the backward pass instead
    of kept (less memory, about one more forward pass of G_Z); the parameters are the same.
    """

    num_frames: int
    num_blocks: int
    fusion: bool = True
    conv_impl: str = "fast"
    dtype: Any = jnp.float32
    batch_norm: BatchNorm = BatchNorm()
    remat_blocks: bool = False
    blocks_start_as_identity: bool = False

    @nn.compact
    def __call__(
        self, start_encoding: jax.Array, end_encoding: jax.Array, noise: jax.Array, train: bool
    ) -> jax.Array:
        def apply_block(block, z, start_encoding, end_encoding, noise):
            return block(z, start_encoding, end_encoding, noise, train), None

        if self.remat_blocks:
            # prevent_cse only matters outside a loop; inside scan it would block fusion.
            apply_block = nn.remat(apply_block, prevent_cse=False)
        apply_level = nn.scan(
            apply_block,
            variable_axes={"params": 0, "batch_stats": 0},
            split_rngs={"params": True},
            in_axes=(nn.broadcast, nn.broadcast, nn.broadcast),
            length=self.num_blocks // 3,
        )
        z = jnp.stack([start_encoding, end_encoding], axis=1)
        for level, level_length in enumerate(
            (self.num_frames // 4, self.num_frames // 2, self.num_frames)
        ):
            block = LatentBlock(
                self.fusion,
                self.conv_impl,
                self.dtype,
                self.batch_norm,
                self.blocks_start_as_identity,
                name=f"level_{level}",
            )
            z, _ = apply_level(
                block, upsample_time(z, level_length), start_encoding, end_encoding, noise
            )
        return z
