"""A tiny model and a deterministic initial train state, shared by tests and by the
processes they start (tests/distributed_worker.py)."""

import jax
import numpy as np

from configs import demo
from inbetweening.training import train

TINY_MODEL = dict(
    image_size=16,
    noise_dim=8,
    latent_channels=8,
    num_latent_blocks=3,
    encoder_channels=(8,) * 6,
    video_generator_channels=(8,) * 6,
    video_discriminator_channels=(8,) * 4,
    image_discriminator_channels=(8,) * 4,
)


def tiny_config(batch_size: int, **model_fields):
    config = demo.get_config()
    for name, value in {**TINY_MODEL, **model_fields}.items():
        setattr(config.model, name, value)
    config.batch_size = batch_size
    return config


def equivalence_config(batch_size: int, **model_fields):
    """tiny_config with the paper's pixel head, for the tests that compare one train step
    computed two ways (devices, processes, convolution forms) to rounding-level
    tolerances. The voxel-flow head samples the key frames bilinearly, whose gradient
    jumps where a sample position crosses a pixel: a rounding-level change of a flow can
    move that gradient by a whole step, and Adam passes it on (2 steps of the tiny model:
    up to ~4% of the learning rate in a few values). The head reduces nothing across
    devices, so these tests lose nothing by leaving it out. One noise draw per pair of key
    frames, for the same reason: the best of several draws is a discrete choice, which a
    rounding-level change of two draws' L1 can flip."""
    config = tiny_config(batch_size, **{"frame_head": "pixels", **model_fields})
    config.reconstruction_samples = 1
    return config


def host_copy(tree):
    """Host (numpy) copies of a state's arrays, to pass to the jitted step again: the step
    donates its input state, and jit keys host and device inputs apart, so a step fed
    host arrays every time compiles once."""
    return jax.tree_util.tree_map(np.array, jax.device_get(tree))


def initial_state(config, models, seed: int = 0) -> train.TrainState:
    """create_train_state's structure with numpy values, the same in every process: flax's
    init compiles for ~20 s here. Kernels ~ N(0, 1/fan-in), scales and variances 1, other
    parameters, batch statistics and Adam moments 0."""
    shapes = train.abstract_train_state(config, models)
    rng = np.random.default_rng(seed)

    def fill(path, leaf):
        field, name = path[0].name, getattr(path[-1], "key", None)
        if field == "key":
            return np.asarray(jax.random.PRNGKey(seed))
        if field in ("step", "g_opt_state", "d_opt_state") or name in ("bias", "mean"):
            return np.zeros(leaf.shape, leaf.dtype)
        if name in ("scale", "var"):
            return np.ones(leaf.shape, leaf.dtype)
        return (rng.normal(size=leaf.shape) / np.sqrt(np.prod(leaf.shape[:-1]))).astype(leaf.dtype)

    return jax.tree_util.tree_map_with_path(fill, shapes)


def random_videos(
    num_batches: int, batch_size: int, num_frames: int = 16, seed: int = 0
) -> np.ndarray:
    """uint8 [num_batches, batch_size, num_frames, 16, 16, 3]."""
    return np.random.default_rng(seed).integers(
        0, 256, size=(num_batches, batch_size, num_frames, 16, 16, 3), dtype=np.uint8
    )
