"""Training state, the jitted adversarial train step, and the training loop."""

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from absl import logging
from jax.sharding import Mesh

from inbetweening.config.validation import ConfigError, validate
from inbetweening.data import input_pipeline
from inbetweening.data.pixels import to_model_range
from inbetweening.models import Models, create_models
from inbetweening.runtime.sharding import (
    batch_sharding,
    make_mesh,
    replicated,
    state_shardings,
)
from inbetweening.training import evaluations, objectives, progress
from inbetweening.training.checkpoints import TrainingCheckpoints, flatten_with_names
from inbetweening.training.trained_models import TrainedGenerator


@flax.struct.dataclass
class TrainState:
    step: jax.Array
    key: jax.Array  # base key; step s uses fold_in(key, s)
    g_params: Any
    g_batch_stats: Any
    # The moving average of g_params that samples (config.generator_ema_decay); None
    # without one (decay 0, as the paper's configs).
    g_ema_params: Any
    d_params: Any  # {"video": ..., "image": ...}
    g_opt_state: Any
    d_opt_state: Any


def create_optimizer(
    config: ml_collections.ConfigDict, learning_rate: float
) -> optax.GradientTransformation:
    """Adam of Section 4.1; one instance each for the generator (config.learning_rate) and
    the discriminators (config.discriminator_learning_rate)."""
    return optax.adam(learning_rate, b1=config.adam_b1, b2=config.adam_b2, eps=config.adam_eps)


def create_train_state(
    config: ml_collections.ConfigDict, models: Models, key: jax.Array
) -> TrainState:
    m = config.model
    g_key, video_key, image_key, step_key = jax.random.split(key, 4)
    frames = jnp.zeros((1, m.image_size, m.image_size, m.image_channels))
    video = jnp.zeros((1, m.num_frames, *frames.shape[1:]))
    g_vars = models.generator.init(g_key, frames, frames, jnp.zeros((1, m.noise_dim)))
    d_params = {
        "video": models.video_discriminator.init(video_key, video)["params"],
        "image": models.image_discriminator.init(image_key, frames)["params"],
    }
    # Adam's state does not depend on the learning rate.
    tx = create_optimizer(config, config.learning_rate)
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        key=step_key,
        g_params=g_vars["params"],
        g_batch_stats=g_vars["batch_stats"],
        g_ema_params=g_vars["params"] if config.generator_ema_decay > 0 else None,
        d_params=d_params,
        g_opt_state=tx.init(g_vars["params"]),
        d_opt_state=tx.init(d_params),
    )


def train_step(
    state: TrainState,
    videos: jax.Array,
    *,
    models: Models,
    config: ml_collections.ConfigDict,
    g_tx: optax.GradientTransformation,
    d_tx: optax.GradientTransformation,
):
    """One discriminator update, then one generator update against the updated
    discriminators (objectives.step_gradients).

    videos: uint8 [B, T, H, W, C]. Returns (new state, metrics of this step).
    """
    real = to_model_range(videos)
    key = jax.random.fold_in(state.key, state.step)
    noise, frame_index = objectives.random_draws(config, key, *real.shape[:2])

    def update_discriminators(d_grads):
        updates, d_opt_state = d_tx.update(d_grads, state.d_opt_state, state.d_params)
        return optax.apply_updates(state.d_params, updates), d_opt_state

    g_variables = {"params": state.g_params, "batch_stats": state.g_batch_stats}
    step = objectives.step_gradients(
        models, config, g_variables, state.d_params, real, noise, frame_index, update_discriminators
    )
    g_updates, g_opt_state = g_tx.update(step.g_grads, state.g_opt_state, state.g_params)
    g_params = optax.apply_updates(state.g_params, g_updates)
    new_state = state.replace(
        step=state.step + 1,
        g_params=g_params,
        g_batch_stats=step.g_batch_stats,
        g_ema_params=moving_average(
            state.g_ema_params, g_params, config.generator_ema_decay, state.step
        ),
        d_params=step.d_params,
        g_opt_state=g_opt_state,
        d_opt_state=state.d_opt_state if step.d_update_state is None else step.d_update_state,
    )
    return new_state, step.metrics


def moving_average(average, params, decay: float, step: jax.Array):
    """The average after `step` + 1 updates, with tf.train.ExponentialMovingAverage's
    warm-up: decay min(decay, (1 + step) / (10 + step)), so early averages follow the
    parameters instead of remembering the initialisation. None (no average): None."""
    if average is None:
        return None
    rate = jnp.minimum(decay, (1.0 + step) / (10.0 + step))
    return jax.tree.map(lambda a, p: rate * a + (1.0 - rate) * p, average, params)


def abstract_train_state(config: ml_collections.ConfigDict, models: Models) -> TrainState:
    """create_train_state's shapes and dtypes, computed without running it."""
    return jax.eval_shape(
        lambda key: create_train_state(config, models, key), jax.random.PRNGKey(0)
    )


def placed_abstract_state(config: ml_collections.ConfigDict, models: Models, mesh: Mesh):
    """abstract_train_state with each array's sharding on `mesh` (what a restore needs)."""
    shapes = abstract_train_state(config, models)
    return jax.tree.map(
        lambda x, sharding: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
        shapes,
        state_shardings(shapes, mesh),
    )


def _placed_shardings(config, models, mesh: Mesh, placed_state):
    """The state's shardings: those of `placed_state` (placed_abstract_state's result)
    when the caller has it, since each computation traces the networks' init (~0.7 s for
    the tiny test model on this CPU, seconds for the paper's)."""
    if placed_state is None:
        return state_shardings(abstract_train_state(config, models), mesh)
    return jax.tree.map(lambda leaf: leaf.sharding, placed_state)


def init_sharded_state(
    config: ml_collections.ConfigDict,
    models: Models,
    mesh: Mesh,
    key: jax.Array,
    placed_state=None,
) -> TrainState:
    """create_train_state under jit, each array created where `state_shardings` puts it
    (initialising op by op takes tens of seconds even for tiny models)."""
    shardings = _placed_shardings(config, models, mesh, placed_state)
    init = jax.jit(lambda key: create_train_state(config, models, key), out_shardings=shardings)
    return init(key)


def initial_state(
    config: ml_collections.ConfigDict, models: Models, mesh: Mesh, placed_state=None
) -> TrainState:
    """The state a new run starts from: the initialisation, with the generator (weights and
    batch statistics) of config.init_generator_from when it names one (fine-tuning: fresh
    discriminators and optimizer states; a weight average starts at the loaded weights).
    Raises ConfigError naming the first array whose shape differs from this config's."""
    key = jax.random.PRNGKey(config.seed)
    state = init_sharded_state(config, models, mesh, key, placed_state)
    if not config.init_generator_from:
        return state
    variables = TrainedGenerator.load(config.init_generator_from).variables
    wanted = flatten_with_names({"params": state.g_params, "batch_stats": state.g_batch_stats})
    loaded = flatten_with_names(variables)
    for name in sorted(wanted.keys() | loaded.keys()):
        shapes = [tuple(tree[name].shape) if name in tree else None for tree in (loaded, wanted)]
        if shapes[0] != shapes[1]:
            raise ConfigError(
                f"config.init_generator_from={config.init_generator_from}: its generator's "
                f"{name} has shape {shapes[0]}, this config's {shapes[1]}"
            )
    place = lambda value, like: jax.device_put(np.asarray(value, like.dtype), like.sharding)
    params = jax.tree.map(place, variables["params"], state.g_params)
    average = None if state.g_ema_params is None else jax.tree.map(jnp.copy, params)
    return state.replace(
        g_params=params,
        g_batch_stats=jax.tree.map(place, variables["batch_stats"], state.g_batch_stats),
        g_ema_params=average,
    )


def jit_train_step(
    config: ml_collections.ConfigDict,
    models: Models,
    mesh: Mesh,
    placed_state=None,
    steps_per_call: int = 1,
):
    """train_step under jax.jit: batch split over the mesh, state as `state_shardings`
    (replicated unless the mesh has an fsdp axis). Batch norm and every loss reduce over
    the global batch, so the result does not depend on the number of devices.

    With steps_per_call K > 1, one call takes K steps (lax.scan) over batches stacked
    [K, B, ...], and each metric comes back as the vector [K] of its steps: the host
    dispatches the state's hundreds of arrays once per K steps (Keras's
    steps_per_execution)."""
    one_step = functools.partial(
        train_step,
        models=models,
        config=config,
        g_tx=create_optimizer(config, config.learning_rate),
        d_tx=create_optimizer(config, config.discriminator_learning_rate),
    )

    def train_steps(state, stacked_videos):
        return jax.lax.scan(one_step, state, stacked_videos)

    state_sharding = _placed_shardings(config, models, mesh, placed_state)
    return jax.jit(
        one_step if steps_per_call == 1 else train_steps,
        in_shardings=(state_sharding, batch_sharding(mesh, stacked=steps_per_call > 1)),
        out_shardings=(state_sharding, replicated(mesh)),
        donate_argnums=0,
    )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> TrainState:
    """Trains config.num_train_steps steps; logs progress and writes TensorBoard events,
    sample GIFs, metrics.json and checkpoints (every config.checkpoint_every_steps steps
    and at the end) into `workdir`. Resumes from the latest checkpoint there, reaching the
    same parameters as a run never interrupted. Returns the final state.

    Raises CheckpointMismatchError, before writing anything, when `workdir` holds
    checkpoints of a model with other shapes, and ConfigError when its latest step is one
    that config.steps_per_call steps a call cannot resume at.
    """
    validate(config, jax.device_count())
    # The held-out metric and checkpoint selection read validation videos.
    input_pipeline.check_dataset(config, ("train", "validation"), jax.process_count())
    models = create_models(config.model)
    mesh = make_mesh(fsdp=config.mesh_fsdp)
    checkpoints = TrainingCheckpoints(workdir, config.checkpoints_to_keep)
    placed_state = placed_abstract_state(config, models, mesh)
    state, first_step = checkpoints.restore_newest_or_init(
        placed_state, lambda: initial_state(config, models, mesh, placed_state)
    )
    if first_step > config.num_train_steps:
        logging.info(
            "%s already holds step %d of %d: nothing to train",
            checkpoints.directory,
            first_step - 1,
            config.num_train_steps,
        )
        checkpoints.close()
        return state
    check_resumable(config, first_step)
    batches = input_pipeline.device_batches(
        input_pipeline.train_batches(
            config, first_step - 1, jax.process_index(), jax.process_count()
        ),
        mesh,
        steps_per_call=config.steps_per_call,
    )
    run_evals = evaluations.TrainingEvaluations(config, models, workdir, first_step)
    step_fn = jit_train_step(
        config, models, mesh, placed_state, steps_per_call=config.steps_per_call
    )
    logging.info(
        "Training %s (variant %s) steps %d..%d, global batch %d on %d devices",
        config.data.name,
        config.model.variant,
        first_step,
        config.num_train_steps,
        config.batch_size,
        jax.device_count(),
    )

    started = time.perf_counter()
    state, window = train_loop(
        config,
        state,
        step_fn,
        batches,
        first_step,
        log=lambda step, means: progress.log_progress(
            step, config.num_train_steps, means, run_evals.reporter
        ),
        sample=run_evals.sample_step,
        checkpoint=lambda step, state: checkpoints.save(
            step, state, config, run_evals.validation_metrics(state)
        ),
    )
    elapsed = time.perf_counter() - started
    checkpoints.wait_until_finished()
    checkpoints.close()
    run_evals.finish(
        {
            "steps": config.num_train_steps,
            "seconds": round(elapsed, 1),
            "steps_per_second": round((config.num_train_steps - first_step + 1) / elapsed, 3),
            "final_losses": window.last,
        }
    )
    return state


def check_resumable(config: ml_collections.ConfigDict, first_step: int) -> None:
    """Raises ConfigError when steps taken config.steps_per_call per call cannot start at
    `first_step` (a checkpoint written with another steps_per_call)."""
    if (first_step - 1) % config.steps_per_call:
        raise ConfigError(
            f"config.steps_per_call={config.steps_per_call}: the run resumes after step "
            f"{first_step - 1}, which is not a multiple of it"
        )


def train_loop(
    config: ml_collections.ConfigDict,
    state: TrainState,
    step_fn: Callable,
    batches: Iterator[jax.Array],
    first_step: int,
    *,
    log: Callable[[int, dict[str, float]], None],
    sample: Callable[[TrainState], None],
    checkpoint: Callable[[int, TrainState], None],
) -> tuple[TrainState, progress.MetricsWindow]:
    """Steps first_step .. config.num_train_steps, config.steps_per_call (K) of them per
    call of step_fn and element of `batches`: log(step, window means) every
    config.log_every_steps steps, sample(state) and checkpoint(step, state) every
    config.sample_every_steps and config.checkpoint_every_steps, each at the last step too
    (config validation makes every one of them a multiple of K).

    The host only dispatches work between those steps: the step, the metrics' on-device
    sums (progress.MetricsWindow) and the next batch's transfer. At a log, sample or
    checkpoint step it waits for the steps so far and checks that every one was finite,
    so nothing is logged or written from a state after a non-finite step
    (progress.NonFiniteLossError). Returns the final state and the metrics window.
    Raises ConfigError when the run resumes at a step that K calls cannot reach (a
    checkpoint written with another config.steps_per_call).
    """
    check_resumable(config, first_step)
    steps_per_call = config.steps_per_call
    window = progress.MetricsWindow()
    last_step = config.num_train_steps
    for first, batch in zip(range(first_step, last_step + 1, steps_per_call), batches):
        state, metrics = step_fn(state, batch)
        window.add(first, metrics)
        step = first + steps_per_call - 1
        if step % config.log_every_steps == 0 or step == last_step:
            log(step, window.mean_and_reset())
        sample_due = step % config.sample_every_steps == 0 or step == last_step
        checkpoint_due = step % config.checkpoint_every_steps == 0 or step == last_step
        if sample_due or checkpoint_due:
            window.check()
        if sample_due:
            sample(state)
        if checkpoint_due:
            checkpoint(step, state)
    return state, window
