"""Adversarial losses (eq. 7-9) from logits, and the discriminators' gradient penalty."""

from typing import Callable

import jax
import jax.numpy as jnp

from inbetweening.config.validation import PENALTY_FORMS


def discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """-log D(real) - log(1 - D(fake)), each term a mean over its own examples (there may
    be more fakes than reals); D = sigmoid(logit)."""
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


def generator_loss(fake_logits: jax.Array) -> jax.Array:
    """Non-saturating -log D(fake), mean over the batch."""
    return jnp.mean(jax.nn.softplus(-fake_logits))


def logits_and_squared_input_gradients(
    logit_fn: Callable[[jax.Array], jax.Array], inputs: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """logit_fn: [B, ...] -> [B], each example's logit depending on that example alone.

    Returns the logits [B] and |d logit_b / d input_b|^2 [B], from a single forward pass.
    """
    logits, pullback = jax.vjp(logit_fn, inputs)
    (gradients,) = pullback(jnp.ones_like(logits))
    return logits, jnp.sum(jnp.square(gradients), axis=tuple(range(1, inputs.ndim)))


def gradient_penalty(
    form: str,
    real_logits: jax.Array,
    real_sq_grads: jax.Array,
    fake_logits: jax.Array,
    fake_sq_grads: jax.Array | None,
) -> jax.Array:
    """Omega of Roth et al. 2017 (or a simpler form, see inbetweening/config/paper.py); [B] inputs.

    fake_sq_grads may be None for form "real", which never needs them.
    """
    if form == "real":
        return jnp.mean(real_sq_grads)
    if form == "real_fake":
        return jnp.mean(real_sq_grads) + jnp.mean(fake_sq_grads)
    if form == "roth":
        real_weight = jnp.square(1.0 - jax.nn.sigmoid(real_logits))
        fake_weight = jnp.square(jax.nn.sigmoid(fake_logits))
        return jnp.mean(real_weight * real_sq_grads) + jnp.mean(fake_weight * fake_sq_grads)
    raise ValueError(f"gradient penalty form {form!r}: must be one of {PENALTY_FORMS}")
