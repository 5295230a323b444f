"""What a training run does at its sample and checkpoint steps: the sample grid, the
held-out middle-frame metric and the validation FVD. `state` is a train.TrainState."""

import jax
import ml_collections
import numpy as np
from absl import logging
from jax.experimental import multihost_utils

from inbetweening.eval.middle_frames import MiddleFrameQuality
from inbetweening.inference import sample_inbetweens
from inbetweening.models import Models
from inbetweening.reporting import Reporter


def generator_variables(state):
    """The generator's variables, whole on every process (each samples on its own)."""
    variables = {"params": state.g_params, "batch_stats": state.g_batch_stats}
    if jax.process_count() > 1:
        variables = multihost_utils.process_allgather(variables, tiled=True)
    return variables


def sampler(config: ml_collections.ConfigDict, models: Models, state):
    """A middle_frames.Sampler over the state's generator, about a training batch of
    videos per call."""
    variables = generator_variables(state)

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


def sample_step(
    reporter: Reporter,
    config,
    models: Models,
    state,
    held_out: np.ndarray,
    quality: MiddleFrameQuality,
) -> tuple[str, dict[str, float]]:
    """The sample grid (workdir/samples.gif, and TensorBoard) and the held-out middle-frame
    metric of `state`, from one sampler. Returns (the GIF's path, the metric)."""
    sample = sampler(config, models, state)
    step = int(state.step)
    generated = sample(
        held_out[:, 0], held_out[:, -1], config.num_samples_per_video, evaluation_key(config, step)
    )
    path = reporter.samples(step, held_out, generated, "samples")
    return path, middle_frame_metrics(quality, sample, step, config, reporter)


def middle_frame_metrics(
    quality: MiddleFrameQuality, sample, step: int, config, reporter: Reporter
) -> dict[str, float]:
    """Best-of-N SSIM and PSNR on held-out videos, logged with the references beside."""
    # Its own stream: the sample grid's noise is evaluation_key(config, step).
    key = jax.random.fold_in(evaluation_key(config, step), 1)
    metrics = quality(sample, key)
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


def evaluation_key(config: ml_collections.ConfigDict, step: int) -> jax.Array:
    """Noise for samples and validation at `step`: a stream apart from training's."""
    return jax.random.fold_in(jax.random.PRNGKey(config.seed), step)


def validation_metrics(
    validation_fvd, config, models: Models, state, reporter: Reporter
) -> dict[str, float] | None:
    """{"val_fvd": x} for checkpoint selection, or None when it is switched off."""
    if validation_fvd is None:
        return None
    step = int(state.step)
    value = validation_fvd(
        models.generator,
        {"params": state.g_params, "batch_stats": state.g_batch_stats},
        evaluation_key(config, step),
    )
    reporter.scalars(step, {"val_fvd": value})
    logging.info("step %d: validation FVD %.2f", step, value)
    return {"val_fvd": value}
