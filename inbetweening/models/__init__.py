"""Model components; `create_models` builds them from `config.model`."""

import dataclasses

import jax
import jax.numpy as jnp
import ml_collections

from inbetweening.models.convolutions import CONV_IMPLS
from inbetweening.models.discriminators import ImageDiscriminator, VideoDiscriminator
from inbetweening.models.encoder import BATCH_NORM_MOMENTUM
from inbetweening.models.generator import FRAME_HEADS, VARIANTS, Generator

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
    m = model_config
    # Model configs saved before these fields existed (exports, checkpoints) lack them.
    dtype = compute_dtype(m.get("compute_dtype", "float32"))
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
            remat_latent_blocks=m.get("remat_latent_blocks", False),
            batch_norm_momentum=m.get("batch_norm_momentum", BATCH_NORM_MOMENTUM),
            latent_blocks_start_as_identity=m.get("latent_blocks_start_as_identity", False),
            key_frame_skips=m.get("key_frame_skips", False),
            frame_head=m.get("frame_head", "pixels"),
        ),
        video_discriminator=VideoDiscriminator(tuple(m.video_discriminator_channels), impl, dtype),
        image_discriminator=ImageDiscriminator(
            tuple(m.image_discriminator_channels),
            impl,
            dtype,
            m.get("image_discriminator_shortcut", "previous_layer"),
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
