"""The objectives over a batch: the adversarial ones (eq. 7-9: which frames each
discriminator judges, the discriminators' loss with its gradient penalty, the generator's
loss), the supervised diagnostic (L1 of the middle frames), and that L1 as an optional
term of the adversarial generator objective."""

import jax
import jax.numpy as jnp
import ml_collections

from inbetweening import losses
from inbetweening.models import Models

OBJECTIVES = ("adversarial", "supervised")


def generate_in_training(generator, g_params, g_batch_stats, real: jax.Array, noise: jax.Array):
    """The generator as the train step runs it (batch statistics) on the key frames of
    real [B, T, H, W, C] in [-1, 1], noise [B, D] -> (fake [B, T, H, W, C], the updated
    batch statistics)."""
    fake, updates = generator.apply(
        {"params": g_params, "batch_stats": g_batch_stats},
        real[:, 0],
        real[:, -1],
        noise,
        train=True,
        mutable=["batch_stats"],
    )
    return fake, updates["batch_stats"]


def pick_frames(videos: jax.Array, frame_index: jax.Array) -> jax.Array:
    """videos [B, T, H, W, C], frame_index [B] -> frames [B, H, W, C].

    A one-hot contraction rather than a gather, whose gradient is a slow scatter on CPU.
    """
    one_hot = jax.nn.one_hot(frame_index, videos.shape[1], dtype=videos.dtype)
    return jnp.einsum("bt,bthwc->bhwc", one_hot, videos)


def image_discriminator_frames(videos: jax.Array, frame_index: jax.Array | None) -> jax.Array:
    """The frames D_I judges, from videos [B, T, H, W, C]: with frame_index [B], one
    sampled middle frame per video [B, H, W, C]; with None, every middle frame
    [B * (T - 2), H, W, C] (eq. 8-9's average over the T - 2 frames)."""
    if frame_index is None:
        return videos[:, 1:-1].reshape(-1, *videos.shape[2:])
    return pick_frames(videos, frame_index)


def sample_frame_index(
    config: ml_collections.ConfigDict, key: jax.Array, batch: int, num_frames: int
) -> jax.Array | None:
    """The frame_index of image_discriminator_frames: one uniformly sampled middle frame
    per video [B], or None when config.image_discriminator_frames is "all"."""
    if config.get("image_discriminator_frames", "one") == "all":
        return None
    return jax.random.randint(key, (batch,), 1, num_frames - 1)


def _logit_fns(models: Models, d_params):
    video_logits = lambda v: models.video_discriminator.apply({"params": d_params["video"]}, v)
    image_logits = lambda f: models.image_discriminator.apply({"params": d_params["image"]}, f)
    return video_logits, image_logits


def mismatched_key_frames(videos: jax.Array) -> jax.Array:
    """videos [B, T, H, W, C] with the key frames (0 and T - 1) of the next video in the
    batch: real frames that do not belong between their key frames."""
    other = jnp.roll(videos, 1, axis=0)
    return jnp.concatenate([other[:, :1], videos[:, 1:-1], other[:, -1:]], axis=1)


def discriminator_objective(
    d_params,
    real: jax.Array,
    fake: jax.Array,
    frame_index: jax.Array,
    models: Models,
    penalty: ml_collections.ConfigDict,
    mismatched: bool = False,
):
    """Eq. 7 + eq. 8 + coefficient/2 * Omega. frame_index: as image_discriminator_frames.

    With `mismatched`, D_V also learns to reject real videos under another video's key
    frames (a matching-aware discriminator, Reed et al. 2016): its fake half is then
    generated and mismatched videos in equal parts.
    """
    video_logits, image_logits = _logit_fns(models, d_params)
    metrics, total = {}, 0.0
    video_fakes = jnp.concatenate([fake, mismatched_key_frames(real)]) if mismatched else fake
    for name, logit_fn, real_x, fake_x in (
        ("video", video_logits, real, video_fakes),
        (
            "image",
            image_logits,
            image_discriminator_frames(real, frame_index),
            image_discriminator_frames(fake, frame_index),
        ),
    ):
        batch = real_x.shape[0]
        # Real and fake in one batch: both discriminators treat every example on its own.
        logits, sq_grads = losses.logits_and_squared_input_gradients(
            logit_fn, jnp.concatenate([real_x, fake_x])
        )
        adversarial = losses.discriminator_loss(logits[:batch], logits[batch:])
        omega = losses.gradient_penalty(
            penalty.form, logits[:batch], sq_grads[:batch], logits[batch:], sq_grads[batch:]
        )
        metrics[f"d_{name}_loss"] = adversarial
        metrics[f"{name}_penalty"] = omega
        total += adversarial + 0.5 * penalty.coefficient * omega
    metrics["d_loss"] = total
    return total, metrics


def generator_objective(
    fake: jax.Array,
    d_params,
    frame_index: jax.Array,
    models: Models,
    real: jax.Array | None = None,
    reconstruction_weight: float = 0.0,
):
    """Eq. 9, plus reconstruction_weight times supervised_objective(fake, real) when that
    weight is positive (pix2pix's L1 term; not the paper's). frame_index: as
    image_discriminator_frames."""
    video_logits, image_logits = _logit_fns(models, d_params)
    video_term = losses.generator_loss(video_logits(fake))
    image_term = losses.generator_loss(image_logits(image_discriminator_frames(fake, frame_index)))
    total = video_term + image_term
    metrics = {"g_video_loss": video_term, "g_image_loss": image_term}
    if reconstruction_weight > 0:
        l1, _ = supervised_objective(fake, real)
        total += reconstruction_weight * l1
        metrics["l1_loss"] = l1
    return total, {**metrics, "g_loss": total}


def supervised_objective(fake: jax.Array, real: jax.Array):
    """Mean absolute error of the middle frames 1..T-2 ([-1, 1] units): the objective of
    the supervised probe, which asks whether the generator can learn the mapping at all."""
    l1 = jnp.mean(jnp.abs(fake[:, 1:-1] - real[:, 1:-1]))
    return l1, {"l1_loss": l1, "g_loss": l1}
