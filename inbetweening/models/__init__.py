"""Model components; `create_models` builds them from `config.model`."""

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections

from inbetweening.models.convolutions import CONV_IMPLS
from inbetweening.models.discriminators import ImageDiscriminator, VideoDiscriminator
from inbetweening.models.generator import FRAME_HEADS, VARIANTS, Generator
from inbetweening.models.normalization import BatchNorm

COMPUTE_DTYPES = ("auto", "float32", "bfloat16")
CONV_IMPL_CHOICES = ("auto", *CONV_IMPLS)


def compute_dtype(name: str, backend: str | None = None) -> jnp.dtype:
    """config.model.compute_dtype as a dtype; "auto" is bfloat16 on accelerators (GPU,
    TPU) and float32 on `backend` "cpu" (default: JAX's default backend)."""
    if name == "auto":
        name = "float32" if (backend or jax.default_backend()) == "cpu" else "bfloat16"
    return jnp.dtype(name)


def conv_impl(name: str, backend: str | None = None) -> str:
    """config.model.conv_impl resolved: "auto" is "fast" on `backend` "cpu" (the form built
    for XLA:CPU) and "xla" (XLA's own convolutions) on GPU and TPU."""
    if name == "auto":
        return "fast" if (backend or jax.default_backend()) == "cpu" else "xla"
    return name


@dataclasses.dataclass(frozen=True)
class Models:
    generator: Generator
    video_discriminator: VideoDiscriminator
    image_discriminator: ImageDiscriminator


def create_models(model_config: ml_collections.ConfigDict) -> Models:
    """The networks of config.model, which must hold every field (recorded configs of
    earlier versions go through config.migration first)."""
    m = model_config
    dtype = compute_dtype(m.compute_dtype)
    impl = conv_impl(m.conv_impl)
    return Models(
        generator=Generator(
            num_frames=m.num_frames,
            image_channels=m.image_channels,
            noise_dim=m.noise_dim,
            latent_channels=m.latent_channels,
            num_latent_blocks=m.num_latent_blocks,
            encoder_channels=tuple(m.encoder_channels),
            video_generator_channels=tuple(m.video_generator_channels),
            variant=m.variant,
            conv_impl=impl,
            dtype=dtype,
            remat_latent_blocks=m.remat_latent_blocks,
            batch_norm=BatchNorm(m.batch_norm_momentum, m.batch_norm_epsilon),
            latent_blocks_start_as_identity=m.latent_blocks_start_as_identity,
            key_frame_skips=m.key_frame_skips,
            frame_head=m.frame_head,
        ),
        video_discriminator=VideoDiscriminator(
            tuple(m.video_discriminator_channels),
            impl,
            dtype,
            layer_norm_epsilon=m.layer_norm_epsilon,
        ),
        image_discriminator=ImageDiscriminator(
            tuple(m.image_discriminator_channels),
            impl,
            dtype,
            m.image_discriminator_shortcut,
            layer_norm_epsilon=m.layer_norm_epsilon,
        ),
    )


__all__ = [
    "COMPUTE_DTYPES",
    "CONV_IMPL_CHOICES",
    "Models",
    "compute_dtype",
    "conv_impl",
    "create_models",
    "VARIANTS",
    "FRAME_HEADS",
    "Generator",
    "VideoDiscriminator",
    "ImageDiscriminator",
]
