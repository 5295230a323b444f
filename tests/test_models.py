"""Shapes and weight counts of every component (Appendix A), config validation, and the
generator's key-frame contract. Paper-size models are only traced (jax.eval_shape)."""

import re

import flax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage

from configs import demo, kth
from inbetweening.config import paper
from inbetweening.config.validation import ConfigError, validate
from inbetweening.models import create_models
from inbetweening.models.departures.voxel_flow import backward_warp, synthesize
from inbetweening.models.encoder import ImageEncoder
from inbetweening.models.latent_generator import LatentGenerator
from inbetweening.models.video_generator import VideoGenerator, key_frame_skip

from random_values import parameter_value

B = 2
KEY = jax.random.PRNGKey(0)


def _traced(module, *args, **kwargs):
    """(output shape, variables shapes) of a module at these input shapes, no compute."""
    return jax.eval_shape(lambda *inputs: module.init_with_output(KEY, *inputs, **kwargs), *args)


def _kernel_count(params) -> int:
    """Values in every parameter named "kernel" (convolution and dense weights)."""
    flat = flax.traverse_util.flatten_dict(params)
    return sum(int(np.prod(leaf.shape)) for path, leaf in flat.items() if path[-1] == "kernel")


def _config(make=paper.get_config, **model_overrides):
    config = make()
    for name, value in model_overrides.items():
        setattr(config.model, name, value)
    return config


def _generator_inputs(m, batch=B):
    frames = jax.ShapeDtypeStruct(
        (batch, m.image_size, m.image_size, m.image_channels), jnp.float32
    )
    return frames, frames, jax.ShapeDtypeStruct((batch, m.noise_dim), jnp.float32)


def _video(m, batch=B):
    return jax.ShapeDtypeStruct(
        (batch, m.num_frames, m.image_size, m.image_size, m.image_channels), jnp.float32
    )


def _frame(m, batch=B):
    return jax.ShapeDtypeStruct((batch, m.image_size, m.image_size, m.image_channels), jnp.float32)


# (config, side / 8, latent channels C): the paper's and the demo's.
SIZES = {"paper": (paper.get_config, 8, 64), "demo": (demo.get_config, 4, 32)}


@pytest.mark.parametrize("size", SIZES)
def test_component_output_shapes(size):
    make, side, channels = SIZES[size]
    m = make().model
    encoder = ImageEncoder(tuple(m.encoder_channels), m.latent_channels)
    (encoding, feature_maps), _ = _traced(encoder, _frame(m), train=False)
    assert encoding.shape == (B, side, side, channels)
    assert [f.shape for f in feature_maps] == [
        (B, side * scale, side * scale, width)
        for scale, width in zip((4, 2, 1), m.encoder_channels[1::2])
    ]

    latent = jax.ShapeDtypeStruct(encoding.shape, jnp.float32)
    noise = jax.ShapeDtypeStruct((B, m.noise_dim), jnp.float32)
    z, _ = _traced(
        LatentGenerator(m.num_frames, m.num_latent_blocks),
        latent,
        latent,
        noise,
        train=False,
    )
    assert z.shape == (B, 16, side, side, channels)

    video, _ = _traced(
        VideoGenerator(tuple(m.video_generator_channels), m.image_channels),
        jax.ShapeDtypeStruct(z.shape, jnp.float32),
        train=False,
    )
    assert video.shape == (B, 16, 8 * side, 8 * side, m.image_channels)

    models = create_models(m)
    assert _traced(models.video_discriminator, _video(m))[0].shape == (B,)
    assert _traced(models.image_discriminator, _frame(m))[0].shape == (B,)


@pytest.mark.parametrize("skips", [False, True], ids=["paper", "key_frame_skips"])
@pytest.mark.parametrize("variant", ["full", "no_fusion", "naive"])
@pytest.mark.parametrize("size", SIZES)
def test_inbetweener_shape_for_every_variant(size, variant, skips):
    m = _config(SIZES[size][0], variant=variant, key_frame_skips=skips).model
    video, _ = _traced(create_models(m).generator, *_generator_inputs(m))
    assert video.shape == (B, 16, m.image_size, m.image_size, m.image_channels)


@pytest.mark.parametrize(
    "overrides", [dict(num_frames=32), dict(image_size=128)], ids=["T32", "128x128"]
)
def test_longer_and_larger_models_build(overrides):
    m = _config(**overrides).model
    models = create_models(m)
    video, _ = _traced(models.generator, *_generator_inputs(m))
    assert video.shape == (B, m.num_frames, m.image_size, m.image_size, 3)
    assert _traced(models.video_discriminator, _video(m))[0].shape == (B,)
    assert _traced(models.image_discriminator, _frame(m))[0].shape == (B,)


def _kernel_counts(config):
    m = config.model
    models = create_models(m)
    g = _traced(models.generator, *_generator_inputs(m, 1))[1]["params"]
    return {
        "encoder": _kernel_count(g["ImageEncoder_0"]),
        "latent_generator": _kernel_count(g["LatentGenerator_0"]),
        "video_generator": _kernel_count(g["VideoGenerator_0"]),
        "generator": _kernel_count(g),
        "video_discriminator": _kernel_count(
            _traced(models.video_discriminator, _video(m, 1))[1]["params"]
        ),
        "image_discriminator": _kernel_count(
            _traced(models.image_discriminator, _frame(m, 1))[1]["params"]
        ),
    }


# Image discriminator, Appendix A with the shortcut reading of PAPER_NOTES.md
# (Shortcut(L_{n-1}) = 1x1 conv of the previous layer's output, average-pooled), c image
# channels, 64x64 input:
#   L1 3x3 c->c: 9c^2;  L2 4x4 c->64 + 1x1 c->64: 16*64c + 64c;  L3 3x3 64->64: 36,864;
#   L4 4x4 64->128 + 1x1: 131,072 + 8,192;  L5 3x3 128->128: 147,456;
#   L6 4x4 128->256 + 1x1: 524,288 + 32,768;  L7 3x3 256->256: 589,824;
#   L8 4x4 256->512 + 1x1: 2,097,152 + 131,072;  L9 dense (64/16)^2 * 512 -> 1: 8,192.
#   Sum without L1, L2: 3,706,880.  RGB: 81 + 3,264 + 3,706,880 = 3,710,225;
#   grayscale: 9 + 1,088 + 3,706,880 = 3,707,977.
#
# Grayscale (c = 1) for the others, from the RGB counts: only layers touching the image
# channels change.
#   E: L1 4x4 c->64 = 1,024c: 1,580,032 - 2,048 = 1,577,984.
#   G_Z: never sees pixels: 8,028,160.
#   G_V: L7 3x4x4 64->c = 3,072c: 4,740,096 - 6,144 = 4,733,952.
#   generator: 1,577,984 + 8,028,160 + 4,733,952 = 14,340,096.
#   D_V: L1 4x4x4 c->64 = 4,096c: 11,055,104 - 8,192 = 11,046,912.
EXPECTED_KERNEL_COUNTS = {
    "rgb": {
        "encoder": 1_580_032,
        "latent_generator": 8_028_160,
        "video_generator": 4_740_096,
        "generator": 14_348_288,
        "video_discriminator": 11_055_104,
        "image_discriminator": 3_710_225,
    },
    "grayscale": {
        "encoder": 1_577_984,
        "latent_generator": 8_028_160,
        "video_generator": 4_733_952,
        "generator": 14_340_096,
        "video_discriminator": 11_046_912,
        "image_discriminator": 3_707_977,
    },
}


@pytest.mark.parametrize("colour,make", [("rgb", paper.get_config), ("grayscale", kth.get_config)])
def test_kernel_counts_match_appendix_a(colour, make):
    assert _kernel_counts(make()) == EXPECTED_KERNEL_COUNTS[colour]


def test_key_frame_skips_widen_only_the_up_sampling_layers():
    """Paper's widths, RGB: the skips join the inputs of G_V's L3, L5, L7 (kernels 3x4x4)
    with 2 x E's widths 256, 128, 64 beside the 256, 128, 64 channels they had:
    48 * (512*128 + 256*64 + 128*3) = 3,950,592 more weights, and nothing else changes."""
    with_skips = _kernel_counts(_config(key_frame_skips=True))
    expected = dict(EXPECTED_KERNEL_COUNTS["rgb"])
    expected["video_generator"] += 3_950_592
    expected["generator"] += 3_950_592
    assert with_skips == expected


def test_key_frame_skip_weights_each_step_by_its_distance_from_the_key_frames():
    start_map = np.random.default_rng(0).normal(size=(2, 3, 3, 4)).astype(np.float32)
    end_map = np.random.default_rng(1).normal(size=(2, 3, 3, 4)).astype(np.float32)
    skip = np.asarray(key_frame_skip(jnp.asarray(start_map), jnp.asarray(end_map), 5))
    assert skip.shape == (2, 5, 3, 3, 8)
    for t, w in enumerate([0.0, 0.25, 0.5, 0.75, 1.0]):
        np.testing.assert_allclose(skip[:, t, ..., :4], (1 - w) * start_map, rtol=1e-6)
        np.testing.assert_allclose(skip[:, t, ..., 4:], w * end_map, rtol=1e-6)


def test_voxel_flow_head_changes_only_g_v_output_layer():
    """Paper's widths, RGB, with the skips: G_V's L7 (kernel 3x4x4, 64 + 2 x 64 input
    channels) draws 5 channels (two flows, a mask) instead of 3: 48 * 192 * 2 = 18,432 more
    weights; the video keeps its shape."""
    config = _config(key_frame_skips=True, frame_head="voxel_flow")
    expected = _kernel_counts(_config(key_frame_skips=True))
    expected["video_generator"] += 18_432
    expected["generator"] += 18_432
    assert _kernel_counts(config) == expected
    m = config.model
    video, _ = _traced(create_models(m).generator, *_generator_inputs(m))
    assert video.shape == (B, 16, 64, 64, 3)


def test_backward_warp_matches_scipy_map_coordinates():
    rng = np.random.default_rng(0)
    frames = rng.normal(size=(2, 8, 6, 3)).astype(np.float32)
    # Up to ~3 frame sizes: many positions fall outside and are clamped to the border.
    flow = rng.normal(scale=5.0, size=(2, 3, 8, 6, 2)).astype(np.float32)
    warped = np.asarray(backward_warp(jnp.asarray(frames), jnp.asarray(flow)))
    rows, columns = np.meshgrid(np.arange(8), np.arange(6), indexing="ij")
    for b in range(2):
        for t in range(3):
            at = [rows + flow[b, t, ..., 0], columns + flow[b, t, ..., 1]]
            for c in range(3):
                expected = ndimage.map_coordinates(frames[b, ..., c], at, order=1, mode="nearest")
                np.testing.assert_allclose(warped[b, t, ..., c], expected, atol=1e-5)


def test_voxel_flow_synthesis_moves_and_blends_the_key_frames():
    rng = np.random.default_rng(0)
    start, end = rng.uniform(-1, 1, size=(2, 1, 8, 8, 3)).astype(np.float32)
    head = np.zeros((1, 3, 8, 8, 5), np.float32)
    head[:, 1, ..., 1] = 2 / 8  # frame 1: the start frame sampled 2 pixels to the right
    head[:, 1, ..., 4] = 1.0  # ... alone
    head[:, 2, ..., 4] = -1.0  # frame 2: the end frame alone, unmoved
    frames = np.asarray(synthesize(jnp.asarray(start), jnp.asarray(end), jnp.asarray(head)))
    np.testing.assert_allclose(frames[:, 0], (start + end) / 2, atol=1e-6)
    shifted = np.concatenate([start[:, :, 2:], np.repeat(start[:, :, -1:], 2, axis=2)], axis=2)
    np.testing.assert_allclose(frames[:, 1], shifted, atol=1e-6)
    np.testing.assert_allclose(frames[:, 2], end, atol=1e-6)


def test_video_generator_needs_one_key_frame_pair_per_up_sampling_layer():
    z = jnp.zeros((1, 4, 2, 2, 8))
    maps = jnp.zeros((1, 2, 2, 8))
    with pytest.raises(ValueError, match="one pair per up-sampling layer \\(3\\), got 1"):
        _traced(VideoGenerator((8,) * 6, 3), z, train=False, key_frame_maps=[(maps, maps)])


INVALID = [
    ("num_frames", dict(num_frames=10), "10"),
    ("image_size", dict(image_size=40), "40"),
    ("num_latent_blocks", dict(num_latent_blocks=8), "8"),
    ("num_frames", dict(variant="naive", num_frames=32), "32"),
    ("variant", dict(variant="deep"), "deep"),
    ("frame_head", dict(frame_head="flow"), "flow"),
]


@pytest.mark.parametrize(
    "field,overrides,value",
    INVALID,
    ids=["T10", "side40", "L8", "naive_T32", "variant", "frame_head"],
)
def test_invalid_model_config_names_field_and_value(field, overrides, value):
    config = _config(**overrides)
    with pytest.raises(ConfigError) as error:
        validate(config, num_devices=1)
    assert field in str(error.value) and value in str(error.value)


def test_batch_not_divisible_by_devices_names_batch_size():
    config = _config()
    config.batch_size = 30
    with pytest.raises(ConfigError) as error:
        validate(config, num_devices=8)
    assert "batch_size" in str(error.value) and "30" in str(error.value)


@pytest.mark.parametrize(
    "field,value",
    [("learning_rate", -1.0), ("discriminator_learning_rate", 0.0), ("num_train_steps", -5)],
)
def test_invalid_training_config_names_field_and_value(field, value):
    config = _config()
    config[field] = value
    with pytest.raises(ConfigError, match=rf"config\.{field}={value}: must be positive"):
        validate(config, num_devices=1)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("objective", "l2", "must be one of ('adversarial', 'supervised')"),
        ("generator_ema_decay", 1.0, "must be in [0, 1)"),
    ],
)
def test_invalid_objective_and_average_are_named(field, value, message):
    config = _config()
    config[field] = value
    with pytest.raises(ConfigError, match=re.escape(f"config.{field}={value!r}: {message}")):
        validate(config, num_devices=1)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("steps_per_call", 0, "config.steps_per_call=0: must be an integer >= 1"),
        ("log_every_steps", 150, "config.log_every_steps=150: must be a positive multiple of "),
        ("checkpoint_every_steps", 0, "config.checkpoint_every_steps=0: must be a positive"),
    ],
)
def test_intervals_that_steps_per_call_cannot_reach_are_named(field, value, message):
    config = _config()
    config.steps_per_call = 4
    config[field] = value
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate(config, num_devices=1)


@pytest.mark.parametrize(
    "make, num_devices", [(paper.get_config, 8), (demo.get_config, 4), (kth.get_config, 8)]
)
def test_shipped_configs_are_valid(make, num_devices):
    """On the devices each is for: the paper's on a host of 8 accelerators, the demo (4
    pairs of key frames) on up to 4."""
    validate(make(), num_devices=num_devices)


def _random_variables(shapes, seed):
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: parameter_value(path[-1].key, leaf.shape, rng, 0.2).astype(np.float32),
        shapes,
    )


@pytest.fixture(scope="module")
def tiny_generator():
    config = demo.get_config()
    m = config.model
    m.image_size, m.noise_dim, m.latent_channels, m.num_latent_blocks = 16, 8, 8, 3
    m.encoder_channels = (4, 4, 8, 8, 8, 8)
    m.video_generator_channels = (8, 8, 8, 8, 4, 4)
    generator = create_models(m).generator
    variables = _random_variables(_traced(generator, *_generator_inputs(m))[1], seed=0)
    return generator, variables, m


@pytest.mark.parametrize("train", [False, True])
def test_generator_keeps_key_frames_exactly(tiny_generator, train):
    generator, variables, m = tiny_generator
    rng = np.random.default_rng(1)
    start, end = (rng.uniform(-1, 1, size=(3, 16, 16, 3)).astype(np.float32) for _ in range(2))
    noise = rng.normal(size=(3, m.noise_dim)).astype(np.float32)

    def generate(variables, start, end, noise):
        if train:
            return generator.apply(
                variables, start, end, noise, train=True, mutable=["batch_stats"]
            )[0]
        return generator.apply(variables, start, end, noise, train=False)

    video = np.asarray(jax.jit(generate)(variables, start, end, noise))
    assert video.shape == (3, 16, 16, 16, 3)
    np.testing.assert_array_equal(video[:, 0], start)
    np.testing.assert_array_equal(video[:, -1], end)
    middle = video[:, 1:-1]
    assert np.all(np.isfinite(middle)) and middle.min() >= -1 and middle.max() <= 1
    # Generated frames, not copies of the key frames.
    assert np.abs(middle - start[:, None]).max() > 1e-3


def test_every_generator_kernel_gets_a_gradient_through_the_voxel_flow_head(tiny_generator):
    """configs/demo.py's head: the middle frames' L1 reaches every kernel through the
    flows and the mask (a kernel cut off from the warp would get exactly 0)."""
    generator, variables, m = tiny_generator
    assert m.frame_head == "voxel_flow"
    rng = np.random.default_rng(2)
    start, end, target = (rng.uniform(-1, 1, size=(2, 16, 16, 3)).astype(np.float32) for _ in "abc")
    noise = rng.normal(size=(2, m.noise_dim)).astype(np.float32)

    def loss(params):
        video, _ = generator.apply(
            {**variables, "params": params}, start, end, noise, train=True, mutable=["batch_stats"]
        )
        return jnp.abs(video[:, 1:-1] - target[:, None]).mean()

    grads = flax.traverse_util.flatten_dict(jax.jit(jax.grad(loss))(variables["params"]))
    kernels = {path: g for path, g in grads.items() if path[-1] == "kernel"}
    assert len(kernels) > 20
    for path, grad in kernels.items():
        assert np.any(np.asarray(grad) != 0), "/".join(path)
