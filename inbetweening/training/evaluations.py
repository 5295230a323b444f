"""What a training run does at its sample and checkpoint steps, and at its end: the sample
grid, the held-out middle-frame metric (and its curve in metrics.json), the validation FVD.
`state` is a train.TrainState."""

import os

import jax
import ml_collections
from absl import logging
from jax.experimental import multihost_utils

from inbetweening.config.validation import ConfigError
from inbetweening.data import input_pipeline
from inbetweening.eval.middle_frames import SAMPLE_METRICS, MiddleFrameQuality
from inbetweening.eval.validation import ValidationFVD
from inbetweening.models import Models
from inbetweening.models.sampling import sample_inbetweens
from inbetweening.storage.paths import read_json, user_path
from inbetweening.training.checkpoints import CheckpointNotFoundError
from inbetweening.training.reporting import Reporter
from inbetweening.training.trained_models import TrainedGenerator, generator_variables

METRICS_FILE = "metrics.json"


def gathered(variables):
    """Variables whole on every process (each samples on its own)."""
    if jax.process_count() > 1:
        variables = multihost_utils.process_allgather(variables, tiled=True)
    return variables


def sampler(config: ml_collections.ConfigDict, generator, variables, mesh=None):
    """A middle_frames.Sampler over `generator` with `variables`, a training batch of
    videos per call, split over `mesh` (default: one device)."""
    variables = gathered(variables)
    return lambda start, end, num_samples, key: sample_inbetweens(
        generator,
        variables,
        start,
        end,
        num_samples,
        key,
        videos_per_call=config.batch_size,
        mesh=mesh,
    )


def evaluation_key(config: ml_collections.ConfigDict, step: int) -> jax.Array:
    """Noise for samples and validation at `step`: a stream apart from training's."""
    return jax.random.fold_in(jax.random.PRNGKey(config.seed), step)


def reference_models(config: ml_collections.ConfigDict) -> list[tuple[str, str, TrainedGenerator]]:
    """(name, table row label, model) of each of config.eval.reference_models that makes
    frames of the run's shape, loaded at start-up (the others are left out with a warning).
    Raises ConfigError naming a path that holds no model."""
    m = config.model
    shape = (m.image_size, m.image_size, m.image_channels)
    models = []
    for path in config.eval.reference_models:
        try:
            model = TrainedGenerator.load(path)
        except CheckpointNotFoundError as error:
            raise ConfigError(f"config.eval.reference_models: {error}") from None
        if model.frame_shape == shape:
            name = os.path.basename(os.path.normpath(path))
            models.append((name, reference_label(path, model), model))
        else:
            logging.warning(
                "config.eval.reference_models: %s makes %s frames, this run %s: left out",
                path,
                model.frame_shape,
                shape,
            )
    return models


def reference_label(path: str, model: TrainedGenerator) -> str:
    """The table row of a reference model: "pretrained synthetic_demo, 12,000 steps" for
    one shipped in pretrained/, "<work directory>, 1 step" for a work directory."""
    path = os.path.normpath(path)
    steps = model.training_info.get("steps")
    label = os.path.basename(path)
    if os.path.basename(os.path.dirname(path)) == "pretrained":
        label = f"pretrained {label}"
    return f"{label}, {steps:,} step{'s' * (steps != 1)}" if steps else label


def read_curve(workdir: str, before_step: int) -> list[dict]:
    """The held-out curve a run wrote to metrics.json so far, up to `before_step` (a run
    resumed from an earlier checkpoint redraws what follows)."""
    path = user_path(workdir) / METRICS_FILE
    if not path.is_file():
        return []
    curve = read_json(path).get("held_out_curve", [])
    return [point for point in curve if point["step"] < before_step]


class TrainingEvaluations:
    """The evaluations of one training run, writing to `workdir` through one Reporter."""

    def __init__(self, config: ml_collections.ConfigDict, models: Models, workdir: str, first_step):
        self.config, self.models = config, models
        self.reporter = Reporter(workdir)
        self.grid_videos = input_pipeline.held_out_videos(config, config.num_sample_videos)
        self.quality = MiddleFrameQuality(
            input_pipeline.held_out_videos(config, config.eval.quality_videos),
            config.eval.quality_samples,
        )
        self.validation_fvd = ValidationFVD(config) if config.eval.validation_fvd else None
        self.curve = read_curve(workdir, first_step)
        self.samples_path = None
        self.compared_samples = []
        self.reference_models = reference_models(config)

    def sample_step(self, state) -> dict[str, float]:
        """The sample grid (workdir/samples.gif, and TensorBoard) and the held-out metric of
        the sampling weights, with the unaveraged weights' beside when they differ; the
        curve so far goes to metrics.json. Returns the metric."""
        config, step = self.config, int(state.step)
        sample = sampler(config, self.models.generator, generator_variables(state))
        grid_key = evaluation_key(config, step)
        generated = sample(
            self.grid_videos[:, 0], self.grid_videos[:, -1], config.num_samples_per_video, grid_key
        )
        self.samples_path = self.reporter.samples(step, self.grid_videos, generated, "samples")
        # Its own stream: the sample grid's noise is evaluation_key(config, step).
        key = jax.random.fold_in(grid_key, 1)
        metrics = self.quality(sample, key)
        if config.generator_ema_decay > 0:
            raw = {"params": state.g_params, "batch_stats": state.g_batch_stats}
            unaveraged = self.quality(sampler(config, self.models.generator, raw), key)
            metrics.update({f"unaveraged_{m}": unaveraged[f"model_{m}"] for m in SAMPLE_METRICS})
        self.reporter.scalars(step, {f"held_out/{name}": value for name, value in metrics.items()})
        logging.info("step %d: held-out %s", step, self.quality.summary(metrics))
        self.curve.append({"step": step, **metrics})
        self.reporter.json(METRICS_FILE, {"held_out_curve": self.curve})
        return metrics

    def validation_metrics(self, state) -> dict[str, float] | None:
        """{"val_fvd": x} for checkpoint selection, or None when it is switched off."""
        if self.validation_fvd is None:
            return None
        step = int(state.step)
        value = self.validation_fvd(
            self.models.generator, generator_variables(state), evaluation_key(self.config, step)
        )
        self.reporter.scalars(step, {"val_fvd": value})
        logging.info("step %d: validation FVD %.2f", step, value)
        return {"val_fvd": value}

    def compare(self, step: int, held_out: dict[str, float]) -> dict[str, str]:
        """config.eval.reference_models (trained models: params exports or work
        directories) on the same held-out videos and noise as this run's last sample step:
        their scores join `held_out` as "<name>_ssim", "<name>_single_ssim", ... (each of
        SAMPLE_METRICS), their sample grids go to workdir/<name>_samples.gif. Returns
        {table row label: metric prefix}."""
        rows = {}
        key = evaluation_key(self.config, step)
        for name, label, model in self.reference_models:
            sample = sampler(self.config, model.generator, model.variables)
            scores = self.quality(sample, jax.random.fold_in(key, 1))
            held_out.update({f"{name}_{m}": scores[f"model_{m}"] for m in SAMPLE_METRICS})
            generated = sample(
                self.grid_videos[:, 0],
                self.grid_videos[:, -1],
                self.config.num_samples_per_video,
                key,
            )
            grid = self.reporter.samples(step, self.grid_videos, generated, f"{name}_samples")
            rows[label] = name
            self.compared_samples.append(grid)
        return rows

    def finish(self, run: dict) -> None:
        """metrics.json with the run's figures (`run`: steps, seconds, ...), the held-out
        table (with config.eval.reference_models beside), then where the samples and
        metrics are, as the last lines."""
        held_out = {k: v for k, v in self.curve[-1].items() if k != "step"}
        rows = self.compare(run["steps"], held_out)
        metrics_path = self.reporter.json(
            METRICS_FILE,
            {
                **run,
                "held_out": held_out,
                "held_out_videos": len(self.quality.real),
                "held_out_samples": self.quality.num_samples,
                "samples": str(self.samples_path),
                "held_out_curve": self.curve,
            },
        )
        self.reporter.close()
        if jax.process_index() == 0:
            print(f"Middle frames at step {run['steps']}:\n{self.quality.table(held_out, rows)}")
            for path in self.compared_samples:
                print(f"Samples of {os.path.basename(path)[: -len('_samples.gif')]}: {path}")
            print(
                f"Samples (rows: a held-out video, then {self.config.num_samples_per_video} "
                f"in-betweens of its key frames): {self.samples_path}"
            )
            print(f"Metrics: {metrics_path}", flush=True)
