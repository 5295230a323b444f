"""The paper's own training path, stepped once and pinned: eq. 7-9 with Roth et al.'s
penalty at 0.1, one sampled middle frame for D_I, no weight average, no L1, the pixel head
(configs/base.py at tiny widths), against the losses and gradients written out here with
jax.grad of the composed losses and two forward passes of the generator."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs import base
from inbetweening.config import departures
from inbetweening.models import create_models
from inbetweening.runtime import sharding
from inbetweening.training import train

import tiny_setup

BATCH = 4


@pytest.fixture(scope="module")
def setup():
    config = base.get_config()
    for name, value in tiny_setup.TINY_MODEL.items():
        config.model[name] = value
    config.batch_size = BATCH
    assert departures.active(config) == []
    models = create_models(config.model)
    state = tiny_setup.initial_state(config, models)
    videos = tiny_setup.random_videos(1, BATCH, seed=5)[0]
    return config, models, state, videos


def _draws(config, state):
    """The step's noise and sampled frames, drawn as the paper describes: u ~ N(0, I) and
    one uniformly sampled middle frame per video, from fold_in(key, step)."""
    noise_key, frame_key = jax.random.split(jax.random.fold_in(state.key, state.step))
    noise = jax.random.normal(noise_key, (BATCH, config.model.noise_dim))
    return noise, jax.random.randint(frame_key, (BATCH,), 1, config.model.num_frames - 1)


def _independent(config, models, state, videos):
    """(d_loss, d_grads, g_loss, g_grads) of eq. 7-9 written out."""
    real = jnp.asarray(videos, jnp.float32) / 127.5 - 1
    noise, frame = _draws(config, state)
    g_variables = {"params": state.g_params, "batch_stats": state.g_batch_stats}

    def generate(g_params):
        return models.generator.apply(
            {**g_variables, "params": g_params},
            real[:, 0],
            real[:, -1],
            noise,
            train=True,
            mutable=["batch_stats"],
        )[0]

    def frames(video):
        return video[jnp.arange(BATCH), frame]

    def logits(d_params, video):
        return (
            models.video_discriminator.apply({"params": d_params["video"]}, video),
            models.image_discriminator.apply({"params": d_params["image"]}, frames(video)),
        )

    gamma = config.gradient_penalty.coefficient

    def logits_and_squared_gradients(logit, x):
        """Each example's logit and the squared norm of its input gradient. Each logit
        depends on its own example alone, so the gradient of their sum is every example's
        own input gradient."""

        def summed(y):
            logits = logit(y)
            return jnp.sum(logits), logits

        (_, logits), gradient = jax.value_and_grad(summed, has_aux=True)(x)
        return logits, jnp.sum(gradient**2, axis=tuple(range(1, x.ndim)))

    def d_loss(d_params, fake):
        total = 0.0
        for index, (name, pick) in enumerate((("video", lambda v: v), ("image", frames))):
            apply = (models.video_discriminator, models.image_discriminator)[index].apply
            logit = lambda x: apply({"params": d_params[name]}, x)
            # Real and fake in one batch, which the per-example layer norm allows: one
            # forward and one backward pass of each discriminator to differentiate.
            both_logits, both_squares = logits_and_squared_gradients(
                logit, jnp.concatenate([pick(real), pick(fake)])
            )
            real_logits, fake_logits = jnp.split(both_logits, 2)
            real_squares, fake_squares = jnp.split(both_squares, 2)
            omega = jnp.mean((1 - jax.nn.sigmoid(real_logits)) ** 2 * real_squares) + jnp.mean(
                jax.nn.sigmoid(fake_logits) ** 2 * fake_squares
            )
            adversarial = -jnp.mean(jax.nn.log_sigmoid(real_logits)) - jnp.mean(
                jax.nn.log_sigmoid(-fake_logits)
            )
            total = total + adversarial + gamma / 2 * omega
        return total

    fake = generate(state.g_params)  # first forward pass
    d_value, d_grads = jax.value_and_grad(d_loss)(state.d_params, fake)
    d_tx = optax.adam(
        config.discriminator_learning_rate, config.adam_b1, config.adam_b2, config.adam_eps
    )
    updates, _ = d_tx.update(d_grads, state.d_opt_state, state.d_params)
    d_after = optax.apply_updates(state.d_params, updates)

    def g_loss(g_params):
        video_logit, image_logit = logits(d_after, generate(g_params))  # second forward pass
        return -jnp.mean(jax.nn.log_sigmoid(video_logit)) - jnp.mean(
            jax.nn.log_sigmoid(image_logit)
        )

    g_value, g_grads = jax.value_and_grad(g_loss)(state.g_params)
    return d_value, d_grads, g_value, g_grads


def _assert_trees_close(actual, expected, what):
    for (path, a), (_, b) in zip(
        jax.tree_util.tree_leaves_with_path(actual), jax.tree_util.tree_leaves_with_path(expected)
    ):
        scale = float(np.abs(b).max()) + 1e-12
        np.testing.assert_allclose(
            np.asarray(a) / scale,
            np.asarray(b) / scale,
            atol=2e-5,
            err_msg=f"{what}{jax.tree_util.keystr(path)}",
        )


def test_one_step_of_the_papers_training_matches_eq_7_to_9_written_out(setup):
    config, models, state, videos = setup
    d_value, d_grads, g_value, g_grads = jax.jit(
        lambda state: _independent(config, models, state, videos)
    )(state)

    # The jitted train step applies exactly these gradients with the paper's Adam.
    mesh = sharding.make_mesh(jax.devices()[:1])
    new_state, metrics = train.jit_train_step(config, models, mesh)(
        state, sharding.global_batch(videos, mesh)
    )
    g_tx = train.create_optimizer(config, config.learning_rate)
    updates, _ = g_tx.update(g_grads, state.g_opt_state, state.g_params)
    _assert_trees_close(new_state.g_params, optax.apply_updates(state.g_params, updates), "g")
    assert new_state.g_ema_params is None  # the paper keeps no weight average
    np.testing.assert_allclose(metrics["d_loss"], d_value, rtol=1e-5)
    np.testing.assert_allclose(metrics["g_loss"], g_value, rtol=1e-5)
    # The gradients themselves: Adam's first moment after one step from zero is (1 - b1)
    # times the gradient it was given (the step's own, before Adam divides it by its RMS).
    for opt_state, grads, what in (
        (new_state.d_opt_state, d_grads, "d_grads"),
        (new_state.g_opt_state, g_grads, "g_grads"),
    ):
        given = jax.tree.map(lambda mu: np.asarray(mu) / (1 - config.adam_b1), opt_state[0].mu)
        _assert_trees_close(given, grads, what)
