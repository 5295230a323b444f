"""Mixed precision (config.model.compute_dtype) and rematerialised latent blocks on a tiny
model: a bfloat16 train step tracks the float32 one from the same state and keeps every
parameter and optimizer state in float32; remat changes memory, not results."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import kth
from inbetweening.models import compute_dtype, conv_impl, create_models
from inbetweening.runtime import sharding
from inbetweening.training import train

from tiny_setup import (
    REFERENCE_BATCH,
    TINY_MODEL,
    equivalence_config,
    initial_state,
    random_videos,
    reference_config,
    run_steps,
    tiny_config,
)

BATCH = REFERENCE_BATCH  # the float32 step is the session's reference (conftest.py)
LOSSES = ("d_video_loss", "d_image_loss", "d_loss", "g_video_loss", "g_image_loss", "g_loss")
PENALTIES = ("video_penalty", "image_penalty")
# bfloat16 keeps 8 significant bits: each rounding is off by up to 2^-9 ~ 0.2% relative.
# A logit passes ~10 rounded convolutions, each followed by a float32-statistics
# normalisation that rescales rather than compounds the error, so the logits and the
# losses (softplus of logits, slope < 1) move by ~0.5%; the generator's losses also see
# the discriminators after one Adam step, whose first update is ~lr * sign(gradient) and
# flips where a gradient is below bfloat16's resolution (measured: <= 1%). Bound: 3%.
# The penalties are squared input gradients, computed by a bfloat16 backward pass through
# layer norms, whose backward subtracts the mean gradient from each gradient: a
# cancellation that loses relative precision (measured: <= 8%, on D_I's 3-channel first
# layer). Bound: 15%.
LOSS_RTOL, PENALTY_RTOL = 0.03, 0.15


@pytest.fixture(scope="module")
def setup():
    config = tiny_config(BATCH)
    return initial_state(config, create_models(config.model)), random_videos(1, BATCH)[0]


def test_bfloat16_step_matches_float32_and_keeps_float32_state(reference_steps):
    """The first of the session's float32 reference steps (tests/conftest.py), taken again
    in bfloat16 from the same state on the same batch."""
    float32 = reference_config()
    start = initial_state(float32, create_models(float32.model))
    config = equivalence_config(BATCH, compute_dtype="bfloat16")
    mesh = sharding.make_mesh(jax.devices()[:1])
    step_fn = train.jit_train_step(config, create_models(config.model), mesh)
    (state,), (metrics,) = run_steps(step_fn, mesh, start, random_videos(1, BATCH))
    reference = reference_steps[1][0]
    for names, rtol in ((LOSSES, LOSS_RTOL), (PENALTIES, PENALTY_RTOL)):
        for name in names:
            np.testing.assert_allclose(metrics[name], reference[name], rtol=rtol, err_msg=name)
    for path, leaf in jax.tree_util.tree_leaves_with_path(state):
        if jnp.issubdtype(leaf.dtype, jnp.floating):
            assert leaf.dtype == jnp.float32, jax.tree_util.keystr(path)


def test_remat_latent_blocks_changes_nothing(setup):
    """The generator's output and parameter gradients with and without remat."""
    state, videos = setup
    frames = jnp.asarray(videos[:, 0], jnp.float32) / 127.5 - 1.0
    noise = jax.random.normal(jax.random.PRNGKey(1), (BATCH, TINY_MODEL["noise_dim"]))

    def video_and_grads(remat):
        config = tiny_config(BATCH, remat_latent_blocks=remat)
        generator = create_models(config.model).generator

        def objective(params):
            video, _ = generator.apply(
                {"params": params, "batch_stats": state.g_batch_stats},
                frames,
                frames,
                noise,
                train=True,
                mutable=["batch_stats"],
            )
            return jnp.mean(jnp.square(video)), video

        return jax.jit(jax.grad(objective, has_aux=True))(state.g_params)

    grads, video = video_and_grads(False)
    remat_grads, remat_video = video_and_grads(True)
    np.testing.assert_allclose(remat_video, video, atol=1e-6)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), remat_grads, grads
    )


@pytest.mark.parametrize(
    "backend, expected", [("gpu", jnp.bfloat16), ("tpu", jnp.bfloat16), ("cpu", jnp.float32)]
)
def test_auto_compute_dtype_is_bfloat16_on_accelerators_only(backend, expected):
    assert compute_dtype("auto", backend) == expected
    assert compute_dtype("float32", backend) == jnp.float32


@pytest.mark.parametrize("backend, expected", [("gpu", "xla"), ("tpu", "xla"), ("cpu", "fast")])
def test_auto_conv_impl_is_fast_on_cpu_only(backend, expected):
    assert conv_impl("auto", backend) == expected
    assert conv_impl("xla", "cpu") == "xla" and conv_impl("fast", "gpu") == "fast"


def test_paper_configs_compute_in_float32_on_every_backend():
    config = kth.get_config()
    assert config.model.compute_dtype == "float32"
    assert compute_dtype(config.model.compute_dtype, "gpu") == jnp.float32
    models = create_models(config.model)
    assert models.generator.dtype == jnp.float32
    assert models.video_discriminator.dtype == jnp.float32
