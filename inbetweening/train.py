"""Training state, the jitted adversarial train step, and the training loop."""

import functools
import time
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import optax
from absl import logging
from jax.sharding import Mesh

from inbetweening import objectives, progress, training_evals
from inbetweening.checkpoint import TrainingCheckpoints
from inbetweening.configuration import validate
from inbetweening.data import input_pipeline
from inbetweening.models import Models, create_models
from inbetweening.pixels import to_model_range
from inbetweening.sharding import (
    batch_sharding,
    global_batch,
    make_mesh,
    replicated,
    state_shardings,
)


@flax.struct.dataclass
class TrainState:
    step: jax.Array
    key: jax.Array  # base key; step s uses fold_in(key, s)
    g_params: Any
    g_batch_stats: Any
    g_ema_params: Any  # the moving average of g_params that samples (generator_ema_decay)
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
        g_ema_params=g_vars["params"],
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
    discriminators; the generator runs forward once (its pullback serves the G update).

    videos: uint8 [B, T, H, W, C]. Returns (new state, metrics of this step).
    """
    videos = to_model_range(videos)
    batch, num_frames = videos.shape[:2]
    noise_key, frame_key = jax.random.split(jax.random.fold_in(state.key, state.step))
    noise = jax.random.normal(noise_key, (batch, config.model.noise_dim))
    frame_index = objectives.sample_frame_index(config, frame_key, batch, num_frames)

    generate = lambda g_params: objectives.generate_in_training(
        models.generator, g_params, state.g_batch_stats, videos, noise
    )
    fake, generator_pullback, g_batch_stats = jax.vjp(generate, state.g_params, has_aux=True)

    if config.get("objective", "adversarial") == "supervised":
        d_params, d_opt_state, d_metrics = state.d_params, state.d_opt_state, {}
        fake_grads, g_metrics = jax.grad(objectives.supervised_objective, has_aux=True)(
            fake, videos
        )
    else:
        d_grads, d_metrics = jax.grad(objectives.discriminator_objective, has_aux=True)(
            state.d_params,
            videos,
            jax.lax.stop_gradient(fake),
            frame_index,
            models,
            config.gradient_penalty,
            config.mismatched_key_frames,
        )
        d_updates, d_opt_state = d_tx.update(d_grads, state.d_opt_state, state.d_params)
        d_params = optax.apply_updates(state.d_params, d_updates)
        fake_grads, g_metrics = jax.grad(objectives.generator_objective, has_aux=True)(
            fake, d_params, frame_index, models, videos, config.get("reconstruction_weight", 0.0)
        )
    (g_grads,) = generator_pullback(fake_grads)
    g_updates, g_opt_state = g_tx.update(g_grads, state.g_opt_state, state.g_params)
    g_params = optax.apply_updates(state.g_params, g_updates)

    new_state = state.replace(
        step=state.step + 1,
        g_params=g_params,
        g_batch_stats=g_batch_stats,
        g_ema_params=moving_average(
            state.g_ema_params, g_params, config.get("generator_ema_decay", 0.0), state.step
        ),
        d_params=d_params,
        g_opt_state=g_opt_state,
        d_opt_state=d_opt_state,
    )
    return new_state, {**d_metrics, **g_metrics}


def moving_average(average, params, decay: float, step: jax.Array):
    """The average after `step` + 1 updates, with tf.train.ExponentialMovingAverage's
    warm-up: decay min(decay, (1 + step) / (10 + step)), so early averages follow the
    parameters instead of remembering the initialisation. decay 0: the parameters."""
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


def init_sharded_state(
    config: ml_collections.ConfigDict, models: Models, mesh: Mesh, key: jax.Array
) -> TrainState:
    """create_train_state under jit, each array created where `state_shardings` puts it
    (initialising op by op takes tens of seconds even for tiny models)."""
    shardings = state_shardings(abstract_train_state(config, models), mesh)
    init = jax.jit(lambda key: create_train_state(config, models, key), out_shardings=shardings)
    return init(key)


def jit_train_step(config: ml_collections.ConfigDict, models: Models, mesh: Mesh):
    """train_step under jax.jit: batch split over the mesh, state as `state_shardings`
    (replicated unless the mesh has an fsdp axis). Batch norm and every loss reduce over
    the global batch, so the result does not depend on the number of devices."""
    step = functools.partial(
        train_step,
        models=models,
        config=config,
        g_tx=create_optimizer(config, config.learning_rate),
        d_tx=create_optimizer(config, config.discriminator_learning_rate),
    )
    state_sharding = state_shardings(abstract_train_state(config, models), mesh)
    return jax.jit(
        step,
        in_shardings=(state_sharding, batch_sharding(mesh)),
        out_shardings=(state_sharding, replicated(mesh)),
        donate_argnums=0,
    )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> TrainState:
    """Trains config.num_train_steps steps; logs progress and writes TensorBoard events,
    sample GIFs, metrics.json and checkpoints (every config.checkpoint_every_steps steps
    and at the end) into `workdir`. Resumes from the latest checkpoint there, reaching the
    same parameters as a run never interrupted. Returns the final state.

    Raises CheckpointMismatchError, before writing anything, when `workdir` holds
    checkpoints of a model with other shapes.
    """
    validate(config, jax.device_count())
    # The held-out metric and checkpoint selection read validation videos.
    input_pipeline.check_splits(config, ("train", "validation"))
    models = create_models(config.model)
    mesh = make_mesh(fsdp=config.mesh_fsdp)
    checkpoints = TrainingCheckpoints(workdir, config.checkpoints_to_keep)
    state, first_step = checkpoints.restore_newest_or_init(
        placed_abstract_state(config, models, mesh),
        lambda: init_sharded_state(config, models, mesh, jax.random.PRNGKey(config.seed)),
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
    batches = input_pipeline.train_batches(
        config, first_step - 1, jax.process_index(), jax.process_count()
    )
    evaluations = training_evals.TrainingEvaluations(config, models, workdir, first_step)
    step_fn = jit_train_step(config, models, mesh)
    logging.info(
        "Training %s (variant %s) steps %d..%d, global batch %d on %d devices",
        config.data.name,
        config.model.variant,
        first_step,
        config.num_train_steps,
        config.batch_size,
        jax.device_count(),
    )

    window = progress.MetricsWindow()
    started = time.perf_counter()
    for step in range(first_step, config.num_train_steps + 1):
        state, metrics = step_fn(state, global_batch(next(batches), mesh))
        window.add(step, metrics)
        if step % config.log_every_steps == 0 or step == config.num_train_steps:
            progress.log_progress(
                step, config.num_train_steps, window.mean_and_reset(), evaluations.reporter
            )
        sample_due = step % config.sample_every_steps == 0 or step == config.num_train_steps
        checkpoint_due = step % config.checkpoint_every_steps == 0 or step == config.num_train_steps
        if sample_due or checkpoint_due:
            window.check()  # nothing is written from a state whose losses are unchecked
        if sample_due:
            evaluations.sample_step(state)
        if checkpoint_due:
            checkpoints.save(step, state, config, evaluations.validation_metrics(state))
    elapsed = time.perf_counter() - started
    checkpoints.wait_until_finished()
    checkpoints.close()
    evaluations.finish(
        {
            "steps": config.num_train_steps,
            "seconds": round(elapsed, 1),
            "steps_per_second": round((config.num_train_steps - first_step + 1) / elapsed, 3),
            "final_losses": window.last,
        }
    )
    return state
