"""The objectives over a batch: the adversarial ones (eq. 7-9: which frames each
discriminator judges, the discriminators' loss with its gradient penalty, the generator's
loss), the supervised diagnostic (L1 of the middle frames), and that L1 as an optional
term of the adversarial generator objective.

The generator may draw K > 1 in-betweens of each pair of key frames
(config.reconstruction_samples): fakes then hold B * K rows for the B real videos, draw k of
pair b in row b * K + k; the discriminators judge every draw, and the L1 is the best draw's
("best of many")."""

from typing import Any, Callable

import flax
import jax
import jax.numpy as jnp
import ml_collections

from inbetweening.models import Models
from inbetweening.training import losses


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


@flax.struct.dataclass
class StepGradients:
    """What one step's objectives give: the discriminators' gradients and their parameters
    after the update (the same parameters, and no gradients, for the supervised
    objective), the generator's gradients against them, its new batch statistics, and the
    losses."""

    d_grads: Any
    d_params: Any
    d_update_state: Any
    g_grads: Any
    g_batch_stats: Any
    metrics: dict


def step_gradients(
    models: Models,
    config: ml_collections.ConfigDict,
    g_variables: dict,
    d_params,
    real: jax.Array,
    noise: jax.Array,
    frame_index: jax.Array | None,
    update_discriminators: Callable,
) -> StepGradients:
    """One step's gradients as the train step takes them (the probe and diagnose too): the
    generator runs forward once (batch statistics); the discriminators' gradient at its
    fakes; `update_discriminators(d_grads) -> (new d_params, its state)`; then the
    generator's gradient against the updated discriminators, through the same forward
    pass's pullback (as a second forward pass would give it, a third cheaper).

    g_variables: {"params", "batch_stats"}; real: [B, T, H, W, C] in [-1, 1]; noise: [B * K, D]
    for K draws per pair of key frames."""
    key_frames = jnp.repeat(real, noise.shape[0] // real.shape[0], axis=0)
    generate = lambda params: generate_in_training(
        models.generator, params, g_variables["batch_stats"], key_frames, noise
    )
    fake, pullback, g_batch_stats = jax.vjp(generate, g_variables["params"], has_aux=True)
    if config.objective == "supervised":
        d_grads, update_state, d_metrics = None, None, {}
        fake_grads, g_metrics = jax.grad(supervised_objective, has_aux=True)(fake, real)
    else:
        d_grads, d_metrics = jax.grad(discriminator_objective, has_aux=True)(
            d_params,
            real,
            jax.lax.stop_gradient(fake),
            frame_index,
            models,
            config.gradient_penalty,
            config.mismatched_key_frames,
        )
        d_params, update_state = update_discriminators(d_grads)
        fake_grads, g_metrics = jax.grad(generator_objective, has_aux=True)(
            fake, d_params, frame_index, models, real, config.reconstruction_weight
        )
    (g_grads,) = pullback(fake_grads)
    return StepGradients(
        d_grads, d_params, update_state, g_grads, g_batch_stats, {**d_metrics, **g_metrics}
    )


def pick_frames(videos: jax.Array, frame_index: jax.Array) -> jax.Array:
    """videos [B, T, H, W, C], frame_index [B] -> frames [B, H, W, C].

    A one-hot contraction rather than a gather, whose gradient is a slow scatter on CPU.
    """
    one_hot = jax.nn.one_hot(frame_index, videos.shape[1], dtype=videos.dtype)
    return jnp.einsum("bt,bthwc->bhwc", one_hot, videos)


def image_discriminator_frames(videos: jax.Array, frame_index: jax.Array | None) -> jax.Array:
    """The frames D_I judges, from videos [N, T, H, W, C]: with frame_index [B] (N = B * K:
    K draws of each of B pairs share their pair's frame), one sampled middle frame per
    video [N, H, W, C]; with None, every middle frame [N * (T - 2), H, W, C] (eq. 8-9's
    average over the T - 2 frames)."""
    if frame_index is None:
        return videos[:, 1:-1].reshape(-1, *videos.shape[2:])
    return pick_frames(videos, jnp.repeat(frame_index, len(videos) // len(frame_index)))


def random_draws(config: ml_collections.ConfigDict, key: jax.Array, batch: int, num_frames: int):
    """A step's random draws from `key`: noise u [B * K, D] (K = config.reconstruction_samples
    draws per pair of key frames), and the frame_index of image_discriminator_frames (one
    uniformly sampled middle frame per real video [B], or None when
    config.image_discriminator_frames is "all")."""
    noise_key, frame_key = jax.random.split(key)
    noise = jax.random.normal(
        noise_key, (batch * config.reconstruction_samples, config.model.noise_dim)
    )
    if config.image_discriminator_frames == "all":
        return noise, None
    return noise, jax.random.randint(frame_key, (batch,), 1, num_frames - 1)


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
    """Eq. 9 over every draw, plus reconstruction_weight times reconstruction_l1(fake, real)
    when that weight is positive (pix2pix's L1 term; not the paper's). frame_index: as
    image_discriminator_frames."""
    video_logits, image_logits = _logit_fns(models, d_params)
    video_term = losses.generator_loss(video_logits(fake))
    image_term = losses.generator_loss(image_logits(image_discriminator_frames(fake, frame_index)))
    total = video_term + image_term
    metrics = {"g_video_loss": video_term, "g_image_loss": image_term}
    if reconstruction_weight > 0:
        l1 = reconstruction_l1(fake, real)
        total += reconstruction_weight * l1
        metrics["l1_loss"] = l1
    return total, {**metrics, "g_loss": total}


def reconstruction_l1(fake: jax.Array, real: jax.Array) -> jax.Array:
    """Mean absolute error of the middle frames 1..T-2 ([-1, 1] units), per pair of key
    frames the lowest of its K draws' (fake [B * K, ...], real [B, ...]), averaged over
    the pairs: with K = 1 the plain L1; with K > 1 the best-of-many objective of stochastic
    prediction (Bhattacharyya et al. 2018), which lets the draws spread over the paths the
    key frames allow instead of pulling each to their mean."""
    draws = len(fake) // len(real)
    errors = jnp.abs(fake[:, 1:-1] - jnp.repeat(real[:, 1:-1], draws, axis=0))
    per_draw = jnp.mean(errors, axis=tuple(range(1, fake.ndim)))
    return jnp.mean(jnp.min(per_draw.reshape(len(real), draws), axis=1))


def supervised_objective(fake: jax.Array, real: jax.Array):
    """reconstruction_l1 alone: the objective of the supervised probe, which asks whether
    the generator can learn the mapping at all."""
    l1 = reconstruction_l1(fake, real)
    return l1, {"l1_loss": l1, "g_loss": l1}
