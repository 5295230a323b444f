"""A tiny model and a deterministic initial train state, shared by tests and by the
processes they start (tests/distributed_worker.py)."""

import functools

import jax
import numpy as np

from configs import demo
from inbetweening.models import create_models
from inbetweening.runtime import sharding
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


REFERENCE_BATCH, REFERENCE_STEPS = 8, 2


def reference_config():
    """equivalence_config(REFERENCE_BATCH): the config of the tests' reference steps."""
    return equivalence_config(REFERENCE_BATCH)


def run_steps(step_fn, mesh, state, batches):
    """A train step over each of `batches`, the state fed as host arrays every time
    (host_copy: one compilation) -> (the state after each step, each step's metrics)."""
    states, metrics = [], []
    for videos in batches:
        state, step_metrics = step_fn(state, sharding.global_batch(videos, mesh))
        state = host_copy(state)
        states.append(state)
        metrics.append({name: float(value) for name, value in jax.device_get(step_metrics).items()})
    return states, metrics


@functools.cache
def reference_step():
    """(the jitted one-device train step of reference_config(), its mesh), built once per
    process: jit traces each function object once, so every test of the process that
    steps this config shares one trace."""
    config = reference_config()
    mesh = sharding.make_mesh(jax.devices()[:1])
    return train.jit_train_step(config, create_models(config.model), mesh), mesh


def reference_steps() -> tuple[list[train.TrainState], list[dict[str, float]]]:
    """REFERENCE_STEPS reference_step()s from initial_state on random_videos(REFERENCE_STEPS,
    REFERENCE_BATCH) (run_steps): what a step on several devices, in several processes or
    in bfloat16 is compared with (tests/conftest.py `reference_steps` makes it once per
    session)."""
    config = reference_config()
    state = initial_state(config, create_models(config.model))
    step_fn, mesh = reference_step()
    return run_steps(step_fn, mesh, state, random_videos(REFERENCE_STEPS, REFERENCE_BATCH))


def write_reference_steps(directory) -> None:
    """reference_steps() into directory/steps.npz: each state's leaves in tree order."""
    states, metrics = reference_steps()
    arrays = {}
    for step, (state, step_metrics) in enumerate(zip(states, metrics)):
        for index, leaf in enumerate(jax.tree_util.tree_leaves(state)):
            arrays[f"state{step}/{index}"] = leaf
        for name, value in step_metrics.items():
            arrays[f"metrics{step}/{name}"] = value
    np.savez(directory / "steps.npz", **arrays)


def read_reference_steps(directory) -> tuple[list[train.TrainState], list[dict[str, float]]]:
    """What write_reference_steps wrote, as reference_steps() returns it."""
    config = reference_config()
    structure = jax.tree_util.tree_structure(
        train.abstract_train_state(config, create_models(config.model))
    )
    states, metrics = [], []
    with np.load(directory / "steps.npz") as arrays:
        for step in range(REFERENCE_STEPS):
            leaves = [arrays[f"state{step}/{index}"] for index in range(structure.num_leaves)]
            states.append(jax.tree_util.tree_unflatten(structure, leaves))
            prefix = f"metrics{step}/"
            metrics.append(
                {
                    name[len(prefix) :]: float(arrays[name])
                    for name in arrays.files
                    if name.startswith(prefix)
                }
            )
    return states, metrics
