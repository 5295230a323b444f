"""Training state, the jitted adversarial train step, and the training loop."""

import functools
import time
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from absl import logging
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from inbetweening import losses
from inbetweening.checkpoint import TrainingCheckpoints
from inbetweening.configuration import validate
from inbetweening.data import input_pipeline
from inbetweening.eval.middle_frames import MiddleFrameQuality
from inbetweening.evaluate import ValidationFVD
from inbetweening.models import Models, create_models
from inbetweening.pixels import to_model_range
from inbetweening.reporting import Reporter
from inbetweening.sampling import sample_inbetweens

DATA_AXIS = "data"
FSDP_AXIS = "fsdp"


@flax.struct.dataclass
class TrainState:
    step: jax.Array
    key: jax.Array  # base key; step s uses fold_in(key, s)
    g_params: Any
    g_batch_stats: Any
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
        d_params=d_params,
        g_opt_state=tx.init(g_vars["params"]),
        d_opt_state=tx.init(d_params),
    )


def pick_frames(videos: jax.Array, frame_index: jax.Array) -> jax.Array:
    """videos [B, T, H, W, C], frame_index [B] -> frames [B, H, W, C].

    A one-hot contraction rather than a gather, whose gradient is a slow scatter on CPU.
    """
    one_hot = jax.nn.one_hot(frame_index, videos.shape[1], dtype=videos.dtype)
    return jnp.einsum("bt,bthwc->bhwc", one_hot, videos)


def image_discriminator_frames(videos: jax.Array, frame_index: jax.Array | None) -> jax.Array:
    """The frames D_I judges, from videos [B, T, H, W, C]: with frame_index [B], one
    sampled middle frame per video [B, H, W, C]; with None, every middle frame
    [B * (T - 2), H, W, C] (eq. 8-9's average over the T - 2 frames)."""
    if frame_index is None:
        return videos[:, 1:-1].reshape(-1, *videos.shape[2:])
    return pick_frames(videos, frame_index)


def sample_frame_index(
    config: ml_collections.ConfigDict, key: jax.Array, batch: int, num_frames: int
) -> jax.Array | None:
    """The frame_index of image_discriminator_frames: one uniformly sampled middle frame
    per video [B], or None when config.image_discriminator_frames is "all"."""
    if config.get("image_discriminator_frames", "one") == "all":
        return None
    return jax.random.randint(key, (batch,), 1, num_frames - 1)


def _logit_fns(models: Models, d_params):
    video_logits = lambda v: models.video_discriminator.apply({"params": d_params["video"]}, v)
    image_logits = lambda f: models.image_discriminator.apply({"params": d_params["image"]}, f)
    return video_logits, image_logits


def mismatched_key_frames(videos: jax.Array) -> jax.Array:
    """videos [B, T, H, W, C] with the key frames (0 and T - 1) of the next video in the
    batch: real frames that do not belong between their key frames."""
    other = jnp.roll(videos, 1, axis=0)
    return jnp.concatenate([other[:, :1], videos[:, 1:-1], other[:, -1:]], axis=1)


def discriminator_objective(
    d_params,
    real: jax.Array,
    fake: jax.Array,
    frame_index: jax.Array,
    models: Models,
    penalty: ml_collections.ConfigDict,
    mismatched: bool = False,
):
    """Eq. 7 + eq. 8 + coefficient/2 * Omega. frame_index: as image_discriminator_frames.

    With `mismatched`, D_V also learns to reject real videos under another video's key
    frames (a matching-aware discriminator, Reed et al. 2016): its fake half is then
    generated and mismatched videos in equal parts.
    """
    video_logits, image_logits = _logit_fns(models, d_params)
    metrics, total = {}, 0.0
    video_fakes = jnp.concatenate([fake, mismatched_key_frames(real)]) if mismatched else fake
    for name, logit_fn, real_x, fake_x in (
        ("video", video_logits, real, video_fakes),
        (
            "image",
            image_logits,
            image_discriminator_frames(real, frame_index),
            image_discriminator_frames(fake, frame_index),
        ),
    ):
        batch = real_x.shape[0]
        # Real and fake in one batch: both discriminators treat every example on its own.
        logits, sq_grads = losses.logits_and_squared_input_gradients(
            logit_fn, jnp.concatenate([real_x, fake_x])
        )
        adversarial = losses.discriminator_loss(logits[:batch], logits[batch:])
        omega = losses.gradient_penalty(
            penalty.form, logits[:batch], sq_grads[:batch], logits[batch:], sq_grads[batch:]
        )
        metrics[f"d_{name}_loss"] = adversarial
        metrics[f"{name}_penalty"] = omega
        total += adversarial + 0.5 * penalty.coefficient * omega
    metrics["d_loss"] = total
    return total, metrics


def generator_objective(fake: jax.Array, d_params, frame_index: jax.Array, models: Models):
    """Eq. 9. frame_index: as image_discriminator_frames."""
    video_logits, image_logits = _logit_fns(models, d_params)
    video_term = losses.generator_loss(video_logits(fake))
    image_term = losses.generator_loss(image_logits(image_discriminator_frames(fake, frame_index)))
    total = video_term + image_term
    return total, {"g_video_loss": video_term, "g_image_loss": image_term, "g_loss": total}


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
    frame_index = sample_frame_index(config, frame_key, batch, num_frames)

    def generate(g_params):
        fake, updates = models.generator.apply(
            {"params": g_params, "batch_stats": state.g_batch_stats},
            videos[:, 0],
            videos[:, -1],
            noise,
            train=True,
            mutable=["batch_stats"],
        )
        return fake, updates["batch_stats"]

    fake, generator_pullback, g_batch_stats = jax.vjp(generate, state.g_params, has_aux=True)

    d_grads, d_metrics = jax.grad(discriminator_objective, has_aux=True)(
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

    fake_grads, g_metrics = jax.grad(generator_objective, has_aux=True)(
        fake, d_params, frame_index, models
    )
    (g_grads,) = generator_pullback(fake_grads)
    g_updates, g_opt_state = g_tx.update(g_grads, state.g_opt_state, state.g_params)

    new_state = state.replace(
        step=state.step + 1,
        g_params=optax.apply_updates(state.g_params, g_updates),
        g_batch_stats=g_batch_stats,
        d_params=d_params,
        g_opt_state=g_opt_state,
        d_opt_state=d_opt_state,
    )
    return new_state, {**d_metrics, **g_metrics}


def make_mesh(devices=None, fsdp: int = 1) -> Mesh:
    """A (data, fsdp) mesh over `devices` (default: every device of every process), fsdp
    devices per row. The batch is split over every device; parameters and optimizer state
    over the fsdp devices of a row. Rows are runs of consecutive devices, so with one
    process per host the parameters are gathered within a host."""
    devices = np.asarray(devices if devices is not None else jax.devices())
    return Mesh(devices.reshape(-1, fsdp), (DATA_AXIS, FSDP_AXIS))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec((DATA_AXIS, FSDP_AXIS)))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def state_shardings(state, mesh: Mesh):
    """A tree of shardings for `state` (arrays or jax.ShapeDtypeStructs): each float array
    split over "fsdp" along its largest axis that the fsdp size divides; the rest (step,
    key, Adam's counts, arrays with no such axis) replicated."""
    fsdp = mesh.shape[FSDP_AXIS]

    def sharding(leaf):
        if fsdp == 1 or not jnp.issubdtype(leaf.dtype, jnp.floating):
            return replicated(mesh)
        divisible = [
            axis
            for axis in np.argsort(leaf.shape, kind="stable")[::-1]
            if leaf.shape[axis] % fsdp == 0
        ]
        if not divisible:
            return replicated(mesh)
        spec = [None] * len(leaf.shape)
        spec[divisible[0]] = FSDP_AXIS
        return NamedSharding(mesh, PartitionSpec(*spec))

    return jax.tree.map(sharding, state)


def abstract_train_state(config: ml_collections.ConfigDict, models: Models) -> TrainState:
    """create_train_state's shapes and dtypes, computed without running it."""
    return jax.eval_shape(
        lambda key: create_train_state(config, models, key), jax.random.PRNGKey(0)
    )


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


def global_batch(local_videos: np.ndarray, mesh: Mesh) -> jax.Array:
    """This process's uint8 slice of the batch -> one global array sharded over the mesh."""
    return jax.make_array_from_process_local_data(batch_sharding(mesh), local_videos)


class NonFiniteLossError(RuntimeError):
    """A loss became NaN or infinite; training stopped before writing anything more."""


def check_finite(step: int, metrics: dict[str, float]) -> None:
    for name, value in metrics.items():
        if not np.isfinite(value):
            raise NonFiniteLossError(
                f"training stopped at step {step}: {name} = {value}; nothing was written "
                "after the last finite step"
            )


def _generator_variables(state: TrainState):
    """The generator's variables, whole on every process (each samples on its own)."""
    variables = {"params": state.g_params, "batch_stats": state.g_batch_stats}
    if jax.process_count() > 1:
        variables = multihost_utils.process_allgather(variables, tiled=True)
    return variables


def _sampler(config: ml_collections.ConfigDict, models: Models, state: TrainState):
    """A middle_frames.Sampler over the state's generator, about a training batch of
    videos per call."""
    variables = _generator_variables(state)

    def sample(start, end, num_samples, key):
        chunk = max(1, config.batch_size // num_samples)
        return np.concatenate(
            [
                sample_inbetweens(
                    models.generator,
                    variables,
                    start[i : i + chunk],
                    end[i : i + chunk],
                    num_samples,
                    jax.random.fold_in(key, i),
                )
                for i in range(0, len(start), chunk)
            ]
        )

    return sample


def _write_samples(
    reporter: Reporter, config, models: Models, state: TrainState, held_out: np.ndarray, tag: str
) -> str:
    generated = _sampler(config, models, state)(
        held_out[:, 0],
        held_out[:, -1],
        config.num_samples_per_video,
        _evaluation_key(config, int(state.step)),
    )
    return reporter.samples(int(state.step), held_out, generated, tag)


def _middle_frame_metrics(
    quality: MiddleFrameQuality, config, models: Models, state: TrainState, reporter: Reporter
) -> dict[str, float]:
    """Best-of-N SSIM and PSNR on held-out videos, logged with the references beside."""
    step = int(state.step)
    # Its own stream: the sample grid's noise is _evaluation_key(config, step).
    key = jax.random.fold_in(_evaluation_key(config, step), 1)
    metrics = quality(_sampler(config, models, state), key)
    reporter.scalars(step, {f"held_out/{name}": value for name, value in metrics.items()})
    logging.info(
        "step %d: held-out best-of-%d SSIM %.3f, PSNR %.2f dB (cross-fade %.3f, "
        "%.2f dB; repeated key frames %.3f, %.2f dB)",
        step,
        quality.num_samples,
        metrics["model_ssim"],
        metrics["model_psnr"],
        metrics["cross-fade_ssim"],
        metrics["cross-fade_psnr"],
        metrics["repeat start, then end_ssim"],
        metrics["repeat start, then end_psnr"],
    )
    return metrics


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
    state, first_step = _restore_or_init(checkpoints, config, models, mesh)
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
    held_out = input_pipeline.held_out_videos(config, config.num_sample_videos)
    quality = MiddleFrameQuality(
        input_pipeline.held_out_videos(config, config.eval.quality_videos),
        config.eval.quality_samples,
    )
    step_fn = jit_train_step(config, models, mesh)
    reporter = Reporter(workdir)
    validation_fvd = ValidationFVD(config) if config.eval.validation_fvd else None
    logging.info(
        "Training %s (variant %s) steps %d..%d, global batch %d on %d devices",
        config.data.name,
        config.model.variant,
        first_step,
        config.num_train_steps,
        config.batch_size,
        jax.device_count(),
    )

    pending, history = None, []  # metrics fetched one step late, so steps stay queued
    started = time.perf_counter()
    window_start, window_steps = started, 0
    for step in range(first_step, config.num_train_steps + 1):
        state, metrics = step_fn(state, global_batch(next(batches), mesh))
        if pending is not None:
            _finish_step(step - 1, pending, history)
        pending = metrics
        window_steps += 1
        if step % config.log_every_steps == 0 or step == config.num_train_steps:
            _finish_step(step, pending, history)
            pending = None
            now = time.perf_counter()
            rate = window_steps / (now - window_start)
            window_start, window_steps = now, 0
            means = {k: float(np.mean([h[k] for h in history])) for k in history[0]}
            history.clear()
            reporter.scalars(step, {**means, "steps_per_second": rate})
            logging.info(
                "step %d/%d (%.0f%%) d_loss %.4f g_loss %.4f, %.2f steps/s, ETA %s",
                step,
                config.num_train_steps,
                100 * step / config.num_train_steps,
                means["d_loss"],
                means["g_loss"],
                rate,
                _duration((config.num_train_steps - step) / rate),
            )
        sample_due = step % config.sample_every_steps == 0
        checkpoint_due = step % config.checkpoint_every_steps == 0 or step == config.num_train_steps
        if (sample_due or checkpoint_due) and pending is not None:
            # Nothing is written from a state whose losses are unchecked.
            _finish_step(step, pending, history)
            pending = None
        if sample_due:
            _write_samples(reporter, config, models, state, held_out, "samples")
            held_out_metrics = _middle_frame_metrics(quality, config, models, state, reporter)
        if checkpoint_due:
            checkpoints.save(
                step,
                state,
                config,
                _validation_metrics(validation_fvd, config, models, state, reporter),
            )
    elapsed = time.perf_counter() - started
    trained_steps = config.num_train_steps - first_step + 1
    samples_path = _write_samples(reporter, config, models, state, held_out, "samples")
    if config.num_train_steps % config.sample_every_steps:
        held_out_metrics = _middle_frame_metrics(quality, config, models, state, reporter)
    final = {k: float(v) for k, v in jax.device_get(metrics).items()}
    metrics_path = reporter.json(
        "metrics.json",
        {
            "steps": config.num_train_steps,
            "seconds": round(elapsed, 1),
            "steps_per_second": round(trained_steps / elapsed, 3),
            "final_losses": final,
            "held_out": held_out_metrics,
            "held_out_videos": len(quality.real),
            "held_out_samples": quality.num_samples,
            "samples": samples_path,
        },
    )
    checkpoints.wait_until_finished()
    checkpoints.close()
    reporter.close()
    logging.info(
        "Samples (rows: real video, then %d in-betweens): %s",
        config.num_samples_per_video,
        samples_path,
    )
    logging.info("Metrics: %s", metrics_path)
    if jax.process_index() == 0:
        print(f"Middle frames at step {config.num_train_steps}:\n{quality.table(held_out_metrics)}")
    return state


def _evaluation_key(config: ml_collections.ConfigDict, step: int) -> jax.Array:
    """Noise for samples and validation at `step`: a stream apart from training's."""
    return jax.random.fold_in(jax.random.PRNGKey(config.seed), step)


def _validation_metrics(
    validation_fvd, config, models: Models, state: TrainState, reporter: Reporter
) -> dict[str, float] | None:
    """{"val_fvd": x} for checkpoint selection, or None when it is switched off."""
    if validation_fvd is None:
        return None
    step = int(state.step)
    value = validation_fvd(
        models.generator,
        {"params": state.g_params, "batch_stats": state.g_batch_stats},
        _evaluation_key(config, step),
    )
    reporter.scalars(step, {"val_fvd": value})
    logging.info("step %d: validation FVD %.2f", step, value)
    return {"val_fvd": value}


def _finish_step(step: int, metrics, history: list) -> None:
    values = {k: float(v) for k, v in jax.device_get(metrics).items()}
    check_finite(step, values)
    history.append(values)


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}"


def _restore_or_init(
    checkpoints: TrainingCheckpoints, config: ml_collections.ConfigDict, models: Models, mesh: Mesh
) -> tuple[TrainState, int]:
    """(state to train from, first step to run): the latest checkpoint's, else a new
    state from config.seed. Arrays are placed on `mesh` as `state_shardings` says."""
    shapes = abstract_train_state(config, models)
    shardings = state_shardings(shapes, mesh)
    # Under jit: initialising op by op takes tens of seconds even for tiny models.
    init = jax.jit(lambda key: create_train_state(config, models, key), out_shardings=shardings)
    key = jax.random.PRNGKey(config.seed)
    latest = checkpoints.latest_step()
    if latest is None:
        return init(key), 1
    abstract = jax.tree.map(
        lambda x, sharding: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding),
        shapes,
        shardings,
    )
    logging.info("Resuming from %s/%d", checkpoints.directory, latest)
    return checkpoints.restore(latest, abstract), latest + 1
