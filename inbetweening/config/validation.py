"""Start-up checks of a config: every impossible value fails here, with its name, before
anything is compiled or written."""

import ml_collections

from inbetweening.models import COMPUTE_DTYPES, CONV_IMPL_CHOICES
from inbetweening.models.discriminators import SHORTCUTS
from inbetweening.models.generator import FRAME_HEADS, VARIANTS

# Each of the video discriminator's four temporal convolutions (kernel 4, no temporal
# padding) removes 3 frames.
MIN_FRAMES_FOR_VIDEO_DISCRIMINATOR = 13
NAIVE_NUM_FRAMES = 16
IMAGE_DISCRIMINATOR_FRAMES = ("one", "all")
# The gradient penalty's forms (training/losses.py) and the training objectives.
PENALTY_FORMS = ("roth", "real", "real_fake")
OBJECTIVES = ("adversarial", "supervised")


class ConfigError(ValueError):
    """A config value the model or the training cannot work with."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def validate(config: ml_collections.ConfigDict, num_devices: int) -> None:
    m = config.model
    _require(
        m.variant in VARIANTS, f"config.model.variant={m.variant!r}: must be one of {VARIANTS}"
    )
    _require(
        m.frame_head in FRAME_HEADS,
        f"config.model.frame_head={m.frame_head!r}: must be one of {FRAME_HEADS}",
    )
    _require(
        m.conv_impl in CONV_IMPL_CHOICES,
        f"config.model.conv_impl={m.conv_impl!r}: must be one of {CONV_IMPL_CHOICES}",
    )
    _require(
        m.compute_dtype in COMPUTE_DTYPES,
        f"config.model.compute_dtype={m.compute_dtype!r}: must be one of {COMPUTE_DTYPES}",
    )
    _require(
        m.num_frames % 4 == 0,
        f"config.model.num_frames={m.num_frames}: must be a multiple of 4 (the latent "
        "generator's levels have T/4, T/2 and T steps)",
    )
    _require(
        m.num_frames >= MIN_FRAMES_FOR_VIDEO_DISCRIMINATOR,
        f"config.model.num_frames={m.num_frames}: the video discriminator's four "
        f"temporal convolutions (kernel 4, no padding) need at least "
        f"{MIN_FRAMES_FOR_VIDEO_DISCRIMINATOR} frames",
    )
    _require(
        m.variant != "naive" or m.num_frames == NAIVE_NUM_FRAMES,
        f"config.model.num_frames={m.num_frames}: the naive baseline decodes 2 steps "
        f"with three time doublings, so it needs exactly {NAIVE_NUM_FRAMES} frames",
    )
    _require(
        m.image_size > 0 and m.image_size % 16 == 0,
        f"config.model.image_size={m.image_size}: must be a positive multiple of 16 "
        "(the encoder halves the side 3 times, the discriminators 4 times)",
    )
    _require(
        m.image_channels in (1, 3),
        f"config.model.image_channels={m.image_channels}: must be 1 (grayscale) or 3",
    )
    _require(
        m.num_latent_blocks > 0 and m.num_latent_blocks % 3 == 0,
        f"config.model.num_latent_blocks={m.num_latent_blocks}: must be a positive "
        "multiple of 3 (three temporal levels with L/3 blocks each)",
    )
    _require(
        len(m.encoder_channels) == 6,
        f"config.model.encoder_channels={tuple(m.encoder_channels)}: needs 6 widths "
        "(layers L1-L6 of the image encoder)",
    )
    _require(
        len(m.video_generator_channels) == 6,
        f"config.model.video_generator_channels={tuple(m.video_generator_channels)}: "
        "needs 6 widths (layers L1-L6 of the video generator)",
    )
    _require(
        len(m.video_discriminator_channels) == 4,
        f"config.model.video_discriminator_channels="
        f"{tuple(m.video_discriminator_channels)}: needs 4 widths (layers L1-L4)",
    )
    _require(
        len(m.image_discriminator_channels) == 4,
        f"config.model.image_discriminator_channels="
        f"{tuple(m.image_discriminator_channels)}: needs 4 widths (one per stride-2 stage)",
    )
    _require(
        m.image_discriminator_shortcut in SHORTCUTS,
        f"config.model.image_discriminator_shortcut={m.image_discriminator_shortcut!r}: "
        f"must be one of {SHORTCUTS}",
    )
    _require(
        0 <= m.batch_norm_momentum < 1,
        f"config.model.batch_norm_momentum={m.batch_norm_momentum}: must be in [0, 1)",
    )
    _require(
        config.batch_size > 0 and config.batch_size % num_devices == 0,
        f"config.batch_size={config.batch_size}: must be a positive multiple of the "
        f"number of devices ({num_devices})",
    )
    _require(
        config.mesh_fsdp > 0 and num_devices % config.mesh_fsdp == 0,
        f"config.mesh_fsdp={config.mesh_fsdp}: must divide the number of devices ({num_devices})",
    )
    _require(
        config.image_discriminator_frames in IMAGE_DISCRIMINATOR_FRAMES,
        f"config.image_discriminator_frames={config.image_discriminator_frames!r}: "
        f"must be one of {IMAGE_DISCRIMINATOR_FRAMES}",
    )
    _require(
        config.gradient_penalty.form in PENALTY_FORMS,
        f"config.gradient_penalty.form={config.gradient_penalty.form!r}: must be one "
        f"of {PENALTY_FORMS}",
    )
    _require(
        config.gradient_penalty.coefficient >= 0,
        f"config.gradient_penalty.coefficient={config.gradient_penalty.coefficient}: must be >= 0",
    )
    _require(
        config.objective in OBJECTIVES,
        f"config.objective={config.objective!r}: must be one of {OBJECTIVES}",
    )
    _require(
        config.reconstruction_weight >= 0,
        f"config.reconstruction_weight={config.reconstruction_weight}: must be >= 0",
    )
    _require(
        isinstance(config.reconstruction_samples, int) and config.reconstruction_samples >= 1,
        f"config.reconstruction_samples={config.reconstruction_samples!r}: must be an "
        "integer >= 1 (noise draws per pair of key frames)",
    )
    _require(
        0 <= config.generator_ema_decay < 1,
        f"config.generator_ema_decay={config.generator_ema_decay!r}: must be in [0, 1)",
    )
    _require(
        config.eval.num_videos == 0 or config.eval.num_videos >= 2,
        f"config.eval.num_videos={config.eval.num_videos}: 0 (the whole split) or at least "
        "2 (FVD's covariances need two videos)",
    )
    for name in ("learning_rate", "discriminator_learning_rate"):
        _require(config[name] > 0, f"config.{name}={config[name]}: must be positive")
    _require(
        config.num_train_steps > 0,
        f"config.num_train_steps={config.num_train_steps}: must be positive",
    )
    steps_per_call = config.steps_per_call
    _require(
        isinstance(steps_per_call, int) and steps_per_call >= 1,
        f"config.steps_per_call={steps_per_call!r}: must be an integer >= 1 (train steps "
        "per call of the jitted step)",
    )
    for name in (
        "num_train_steps",
        "log_every_steps",
        "sample_every_steps",
        "checkpoint_every_steps",
    ):
        _require(
            config[name] > 0 and config[name] % steps_per_call == 0,
            f"config.{name}={config[name]}: must be a positive multiple of "
            f"config.steps_per_call={steps_per_call} (the loop sees the state only between "
            "calls)",
        )
