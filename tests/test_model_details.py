"""Model details the paper leaves open or writes tersely (PAPER_NOTES.md, WORKSPACE.md):
the image discriminator's shortcuts against an independent computation of both readings,
the video generator's output bias, batch-norm momentum."""

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from configs import demo
from inbetweening.config import paper
from inbetweening.models import create_models
from inbetweening.models.discriminators import ImageDiscriminator
from inbetweening.models.normalization import BatchNorm

import tiny_setup

CHANNELS = (3, 4, 5, 6)


def _conv(x, kernel, stride, padding):
    return lax.conv_general_dilated(
        x,
        kernel,
        (stride, stride),
        padding,
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        precision="highest",
    )


def _layer_norm_lrelu(x, scale, bias, epsilon):
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    variance = x.var(axis=(1, 2, 3), keepdims=True)
    y = (x - mean) / jnp.sqrt(variance + epsilon) * scale + bias
    return jnp.where(y > 0, y, 0.2 * y)


def _pool(x):
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def _image_discriminator(params, frames, shortcut, epsilon):
    """Appendix A written out: blocks {L1, L2}, ..., {L7, L8}; flax names layers in call
    order: Conv_{3k} the 3x3, Conv_{3k+1} the 4x4 stride 2, Conv_{3k+2} the shortcut."""
    norm = lambda x, i: _layer_norm_lrelu(
        x, params[f"LayerNorm_{i}"]["scale"], params[f"LayerNorm_{i}"]["bias"], epsilon
    )
    x = block_input = frames
    for k in range(len(CHANNELS)):
        x = norm(_conv(x, params[f"Conv_{3 * k}"]["kernel"], 1, ((1, 1), (1, 1))), 2 * k)
        source = block_input if shortcut == "block_input" else x
        down = _conv(x, params[f"Conv_{3 * k + 1}"]["kernel"], 2, ((1, 1), (1, 1)))
        skip = _conv(_pool(source), params[f"Conv_{3 * k + 2}"]["kernel"], 1, "VALID")
        x = block_input = norm(down + skip, 2 * k + 1)
    dense = params["Dense_0"]
    return x.reshape(len(x), -1) @ dense["kernel"][:, 0] + dense["bias"][0]


# The paper's TensorFlow 1 epsilon (tf.contrib.layers.layer_norm) and the demo's (Flax's).
@pytest.mark.parametrize("epsilon", [1e-12, 1e-6])
@pytest.mark.parametrize("shortcut", ["block_input", "previous_layer"])
def test_image_discriminator_matches_appendix_a_written_out(shortcut, epsilon):
    frames = jax.random.normal(jax.random.PRNGKey(1), (2, 32, 32, 3))
    module = ImageDiscriminator(CHANNELS, shortcut=shortcut, layer_norm_epsilon=epsilon)
    params = jax.jit(module.init)(jax.random.PRNGKey(0), frames)["params"]
    # Non-trivial norm parameters, so that a mix-up of layer norms would show.
    params = jax.tree.map(lambda p: p + 0.1 * jnp.arange(p.size).reshape(p.shape) / p.size, params)
    expected = jax.jit(_image_discriminator, static_argnums=(2, 3))(
        params, frames, shortcut, epsilon
    )
    actual = jax.jit(module.apply)({"params": params}, frames)
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4)


def test_the_two_shortcut_readings_differ_with_the_same_parameters():
    frames = jax.random.normal(jax.random.PRNGKey(1), (2, 32, 32, 3))
    block = ImageDiscriminator(CHANNELS, shortcut="block_input")
    previous = ImageDiscriminator(CHANNELS, shortcut="previous_layer")
    params = jax.jit(block.init)(jax.random.PRNGKey(0), frames)["params"]
    assert jax.tree.structure(params) == jax.tree.structure(
        jax.eval_shape(previous.init, jax.random.PRNGKey(0), frames)["params"]
    )
    assert not np.allclose(
        jax.jit(block.apply)({"params": params}, frames),
        jax.jit(previous.apply)({"params": params}, frames),
    )


def test_paper_configs_read_the_shortcut_from_the_block_input():
    assert paper.get_config().model.image_discriminator_shortcut == "block_input"
    assert create_models(paper.get_config().model).image_discriminator.shortcut == "block_input"


def _generator_param_shapes(model_config):
    m = model_config
    frames = jnp.zeros((1, m.image_size, m.image_size, m.image_channels))
    # Shapes only: initialising the demo generator takes tens of seconds.
    return jax.eval_shape(
        lambda key: create_models(m).generator.init(
            key, frames, frames, jnp.zeros((1, m.noise_dim))
        )["params"],
        jax.random.PRNGKey(0),
    )


@pytest.mark.parametrize("frame_head,out_channels", [("pixels", 3), ("voxel_flow", 5)])
@pytest.mark.parametrize("variant", ["full", "naive"])
def test_only_the_video_generators_last_layer_has_a_bias(variant, frame_head, out_channels):
    """RGB pixels, or two flows and a mask for the voxel-flow head."""
    m = demo.get_config().model
    m.variant, m.frame_head = variant, frame_head
    flat = flax.traverse_util.flatten_dict(_generator_param_shapes(m)["VideoGenerator_0"])
    biased = sorted(path[0] for path in flat if path[-1] == "bias" and "BatchNorm" not in path[0])
    assert biased == ["ConvTranspose_2"]
    assert flat[("ConvTranspose_2", "bias")].shape == (out_channels,)


def test_batch_norm_running_mean_moves_by_one_minus_momentum():
    x = jax.random.normal(jax.random.PRNGKey(0), (8, 4, 4, 3)) + jnp.arange(3.0)
    layer = BatchNorm(momentum=paper.get_config().model.batch_norm_momentum)(True, jnp.float32)
    variables = layer.init(jax.random.PRNGKey(0), x)
    _, updates = layer.apply(variables, x, mutable=["batch_stats"])
    np.testing.assert_allclose(
        updates["batch_stats"]["mean"], 0.01 * x.mean(axis=(0, 1, 2)), rtol=1e-5
    )
    assert paper.get_config().model.batch_norm_momentum == 0.99


def test_latent_blocks_can_start_as_the_identity():
    """With latent_blocks_start_as_identity, each residual branch ends in a norm whose
    scale starts at 0, so at initialisation z(l) = h(z(l-1)) and G_Z's output is its
    up-sampled input through L leaky ReLUs."""
    from inbetweening.models.latent_generator import LatentGenerator, upsample_time

    generator = LatentGenerator(num_frames=16, num_blocks=3, blocks_start_as_identity=True)
    rng = np.random.default_rng(0)
    start, end = (jnp.asarray(rng.normal(size=(2, 2, 2, 8)), jnp.float32) for _ in range(2))
    noise = jnp.asarray(rng.normal(size=(2, 4)), jnp.float32)
    variables = generator.init(jax.random.PRNGKey(0), start, end, noise, True)
    z, _ = generator.apply(variables, start, end, noise, True, mutable=["batch_stats"])
    expected = jnp.stack([start, end], axis=1)
    for length in (4, 8, 16):  # one block per level, after that level's up-sampling
        expected = upsample_time(expected, length)
        expected = jnp.where(expected > 0, expected, 0.2 * expected)
    np.testing.assert_allclose(z, expected, atol=1e-6)
    scales = [variables["params"][f"level_{k}"]["BatchNorm_1"]["scale"] for k in range(3)]
    assert [s.shape for s in scales] == [(1, 8)] * 3  # one block per level, stacked
    assert all(float(jnp.abs(s).max()) == 0.0 for s in scales)


def test_the_paper_config_has_tensorflow_1s_epsilons_and_the_demo_flaxs():
    """tf.layers.batch_normalization (1e-3) and tf.contrib.layers.layer_norm (1e-12) for the
    paper; the demo keeps what its shipped model was trained with."""
    assert (
        paper.get_config().model.batch_norm_epsilon,
        paper.get_config().model.layer_norm_epsilon,
    ) == (1e-3, 1e-12)
    assert (
        demo.get_config().model.batch_norm_epsilon,
        demo.get_config().model.layer_norm_epsilon,
    ) == (1e-5, 1e-6)


@pytest.mark.parametrize(
    "field, values", [("batch_norm_epsilon", (1e-3, 1e-5)), ("layer_norm_epsilon", (1e-12, 1e-3))]
)
def test_the_epsilons_reach_the_networks(field, values):
    """The same parameters and inputs of low variance (where an epsilon matters), two
    values of one epsilon: the generator in training mode, or both discriminators, give
    different outputs."""
    m = tiny_setup.tiny_config(2).model
    frames = 0.01 * jax.random.normal(jax.random.PRNGKey(1), (2, 16, 16, 3))
    video = jnp.repeat(frames[:, None], m.num_frames, axis=1)
    noise = jnp.zeros((2, m.noise_dim))
    key = jax.random.PRNGKey(0)

    def generator_output(models):
        variables = models.generator.init(key, frames, frames, noise)
        out, _ = models.generator.apply(
            variables, frames, frames, noise, train=True, mutable=["batch_stats"]
        )
        return out[:, 1:-1]

    def discriminator_logits(models):
        video_params = models.video_discriminator.init(key, video)
        image_params = models.image_discriminator.init(key, frames)
        return jnp.concatenate(
            [
                models.video_discriminator.apply(video_params, video),
                models.image_discriminator.apply(image_params, frames),
            ]
        )

    output = generator_output if field == "batch_norm_epsilon" else discriminator_logits
    outputs = []
    for value in values:
        m[field] = value
        # Compiled: op by op, initialising and applying the networks took ~20 s each here.
        models = create_models(m)
        outputs.append(jax.jit(lambda: output(models))())
    assert float(jnp.abs(outputs[0] - outputs[1]).max()) > 1e-3
