"""Eq. 7-9 and the gradient penalty against numpy float64 formulas and finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inbetweening.models.discriminators import ImageDiscriminator
from inbetweening.training import losses


def log_sigmoid(x):
    x = np.asarray(x, np.float64)
    return -np.log1p(np.exp(-x))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


REAL = np.array([-2.0, -0.3, 0.0, 1.5, 4.0], np.float32)
FAKE = np.array([3.0, 0.2, -1.0, -4.0, 0.0], np.float32)


def test_discriminator_loss_is_mean_of_minus_log_d_real_and_log_one_minus_d_fake():
    expected = np.mean(-np.log(sigmoid(REAL)) - np.log(1.0 - sigmoid(FAKE)))
    np.testing.assert_allclose(losses.discriminator_loss(REAL, FAKE), expected, rtol=1e-6)


def test_generator_loss_is_non_saturating_minus_log_d_fake():
    expected = np.mean(-np.log(sigmoid(FAKE)))
    np.testing.assert_allclose(losses.generator_loss(FAKE), expected, rtol=1e-6)


def test_losses_are_finite_and_exact_at_extreme_logits():
    big = np.array([100.0, -100.0], np.float32)
    # -log(sigmoid(-100)) = 100 + log(1 + e^-100) ~ 100; -log(sigmoid(100)) ~ 3.7e-44.
    np.testing.assert_allclose(losses.generator_loss(big), np.mean(-log_sigmoid(big)), rtol=1e-6)
    np.testing.assert_allclose(
        losses.discriminator_loss(big, big),
        np.mean(-log_sigmoid(big) - log_sigmoid(-big)),
        rtol=1e-6,
    )
    grads = jax.grad(
        lambda r, f: losses.discriminator_loss(r, f) + losses.generator_loss(f), argnums=(0, 1)
    )(big, big)
    assert all(np.all(np.isfinite(g)) for g in grads)


RG = np.array([0.5, 2.0, 0.0, 1.0, 3.0], np.float32)
FG = np.array([1.0, 0.1, 4.0, 0.0, 2.0], np.float32)


@pytest.mark.parametrize(
    "form,expected",
    [
        ("real", np.mean(RG)),
        ("real_fake", np.mean(RG) + np.mean(FG)),
        ("roth", np.mean((1 - sigmoid(REAL)) ** 2 * RG) + np.mean(sigmoid(FAKE) ** 2 * FG)),
    ],
)
def test_gradient_penalty_forms(form, expected):
    np.testing.assert_allclose(
        losses.gradient_penalty(form, REAL, RG, FAKE, FG), expected, rtol=1e-6
    )


def test_gradient_penalty_real_needs_no_fake_gradients():
    np.testing.assert_allclose(
        losses.gradient_penalty("real", REAL, RG, FAKE, None), np.mean(RG), rtol=1e-6
    )


def test_gradient_penalty_rejects_unknown_form():
    with pytest.raises(ValueError, match="'r2'"):
        losses.gradient_penalty("r2", REAL, RG, FAKE, FG)


def random_params(shapes):
    """float64 values for a parameter tree of shapes: kernels scaled by 1/sqrt(fan-in),
    other parameters (biases, layer-norm scales and offsets) around their usual 0 / 1, all
    nonzero. Filled in numpy: flax's own init compiles one truncated-normal per shape,
    seconds each on this machine."""
    rng = np.random.default_rng(1)

    def fill(path, leaf):
        name = path[-1].key
        values = rng.normal(size=leaf.shape)
        if name == "kernel":
            return values / np.sqrt(np.prod(leaf.shape[:-1]))
        return 1.0 + 0.1 * values if name == "scale" else 0.1 * values

    return jax.tree_util.tree_map_with_path(fill, shapes)


def test_squared_input_gradients_match_central_finite_differences():
    """A tiny image discriminator in float64: the vjp-based |d logit / d x|^2 per example
    must equal the squared norm of a central-difference gradient."""
    with jax.enable_x64(True):
        discriminator = ImageDiscriminator((3, 4, 4, 8), dtype=jnp.float64)
        images = np.random.default_rng(0).uniform(-1, 1, size=(2, 16, 16, 1))
        params = random_params(
            jax.eval_shape(discriminator.init, jax.random.PRNGKey(0), images)["params"]
        )
        logit_fn = jax.jit(lambda x: discriminator.apply({"params": params}, x))

        logits, sq_grads = losses.logits_and_squared_input_gradients(logit_fn, images)
        assert logits.dtype == np.float64

        # Perturb one pixel of every example at once: each logit depends on its own
        # example only (layer norm, not batch norm), so one batched call per pixel.
        h = 1e-6
        num_pixels = images[0].size
        offsets = np.eye(num_pixels).reshape(num_pixels, *images.shape[1:]) * h
        plus = logit_fn(np.concatenate([images + o for o in offsets]))
        minus = logit_fn(np.concatenate([images - o for o in offsets]))
        fd_grads = (np.asarray(plus - minus) / (2 * h)).reshape(num_pixels, -1).T
        np.testing.assert_allclose(logits, logit_fn(images), rtol=1e-12)
        np.testing.assert_allclose(sq_grads, np.sum(fd_grads**2, axis=1), rtol=1e-5)
        assert np.all(sq_grads > 1e-4), sq_grads
