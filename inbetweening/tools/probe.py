"""Probes that tell within minutes whether a configuration learns at all.

    python -m inbetweening.tools.probe --config=configs/demo.py --kind=fixed_batch|supervised \
        --steps=1000 --out=DIR [--num_videos=8] [--config.FIELD=VALUE ...]

Both train on one fixed batch of `num_videos` training videos, at every step, with the
real train step (train.jit_train_step): `fixed_batch` with the config's objective (the
paper's adversarial one), `supervised` with L1 on the middle frames and no discriminator
(config.objective="supervised": can the architecture learn the mapping?). Every
`--eval_every` steps they print and record, against the batch's own videos:

- best-of-N SSIM and PSNR of the middle frames, beside the cross-fade, the repeated key
  frames and optical-flow interpolation (eval/middle_frames.REFERENCES);
- the spread of the middle frames across videos (do they depend on the key frames?) and
  across noise (do they depend on u?), with the real frames' spread across videos;
- what the generator is pushed towards (adversarial probes): the negative gradient of its
  loss at the fakes, per discriminator, its cosine with (real - fake), and the share of
  its energy at high spatial frequencies; DIR/push.png shows it beside the frames;
- the losses, averaged since the last evaluation.

DIR/probe.json holds the curve and the last evaluation's values at the top level;
DIR/probe.png plots the curve.
"""

import functools
import os
import sys

import jax
import ml_collections
import numpy as np
from absl import flags
from ml_collections import config_flags

from inbetweening.config.validation import ConfigError, validate
from inbetweening.data import input_pipeline
from inbetweening.data.errors import DatasetError
from inbetweening.data.pixels import to_model_range
from inbetweening.eval.middle_frames import best_of_n, reference_scores
from inbetweening.models import create_models
from inbetweening.models.sampling import sample_inbetweens
from inbetweening.runtime import command_line, compilation_cache
from inbetweening.runtime.command_line import user_error
from inbetweening.runtime.sharding import global_batch, make_mesh
from inbetweening.storage.media import gif_bytes, video_grid
from inbetweening.storage.paths import user_path, write_atomically, write_json
from inbetweening.tools import plots
from inbetweening.tools.plots import push_image
from inbetweening.tools.probe_measures import push_metrics, spreads
from inbetweening.training import objectives, progress, train
from inbetweening.training.trained_models import generator_variables

KINDS = ("fixed_batch", "supervised")
# Old flag names, kept for one release: {old: new}.
RENAMED_FLAGS = {"output": "out"}


def probe_config(
    config: ml_collections.ConfigDict, kind: str, num_videos: int
) -> ml_collections.ConfigDict:
    """The config the probe trains with: the batch is the fixed videos."""
    if kind not in KINDS:
        raise ConfigError(f"--kind={kind!r}: must be one of {KINDS}")
    config = ml_collections.ConfigDict(config.to_dict())
    config.batch_size = num_videos
    if kind == "supervised":
        config.objective = "supervised"
    return config


def generator_push(models, config, state, videos: np.ndarray, key: jax.Array) -> dict:
    """Where each discriminator pushes the generator's fakes for `videos` (uint8
    [B, T, H, W, C]), as the G update sees them (batch statistics): {"fake": [B, T, H, W, C]
    in [-1, 1], "video" | "image": -d loss / d fake over the middle frames, same shape}. D_I's
    push covers every middle frame (eq. 9's average), for the picture."""
    real = to_model_range(videos)
    noise = jax.random.normal(key, (len(real), config.model.noise_dim))
    return _jitted_push(models)(state.g_params, state.g_batch_stats, state.d_params, real, noise)


@functools.cache
def _jitted_push(models):
    """generator_push's arrays as one compiled program per set of models (op by op, the
    discriminators' gradients took minutes to dispatch on a CPU)."""

    def push(g_params, g_batch_stats, d_params, real, noise):
        fake = objectives.generate_in_training(
            models.generator, g_params, g_batch_stats, real, noise
        )[0]
        terms = lambda f: objectives.generator_objective(f, d_params, None, models)[1]
        pushes = {
            name: -jax.grad(lambda f, n=name: terms(f)[f"g_{n}_loss"])(fake)
            for name in ("video", "image")
        }
        return {"fake": fake, **pushes}

    return jax.jit(push)


def evaluate(models, config, state, videos, num_samples, key, adversarial) -> dict:
    """One point of the curve: scores, spreads and (adversarial) pushes of `state`."""
    variables = generator_variables(state)
    generated = sample_inbetweens(
        models.generator, variables, videos[:, 0], videos[:, -1], num_samples, key
    )
    point = {f"model_{k}": v for k, v in best_of_n(generated, videos).items()}
    point.update(spreads(generated, videos))
    point["_samples"] = generated
    if config.generator_ema_decay > 0:  # the weights themselves, beside their average
        raw = {"params": state.g_params, "batch_stats": state.g_batch_stats}
        generated = sample_inbetweens(
            models.generator, raw, videos[:, 0], videos[:, -1], num_samples, key
        )
        point.update({f"unaveraged_{k}": v for k, v in best_of_n(generated, videos).items()})
    if adversarial:
        push = generator_push(models, config, state, videos, jax.random.fold_in(key, 1))
        point.update(push_metrics(push, videos))
        point["_push"] = push
    return point


def run_probe(
    config: ml_collections.ConfigDict,
    kind: str,
    steps: int,
    output: str,
    num_videos: int = 8,
    eval_every: int = 50,
    num_samples: int = 8,
) -> dict:
    """Trains `steps` steps on one fixed batch and writes DIR/probe.json and probe.png.
    Returns what probe.json holds."""
    config = probe_config(config, kind, num_videos)
    # One device: the probe's batch is a handful of videos. (Also, XLA:CPU deadlocked in a
    # collective when the supervised step for 8 simulated devices came from the
    # persistent compilation cache; WORKSPACE.md.)
    mesh = make_mesh(jax.devices()[:1])
    validate(config, mesh.size)
    if steps < 1 or eval_every < 1 or num_samples < 1:
        raise ConfigError(
            f"--steps={steps}, --eval_every={eval_every}, --num_samples={num_samples}: "
            "each must be positive"
        )
    output = user_path(output)
    models = create_models(config.model)
    videos = next(input_pipeline.train_batches(config, 0, 0, 1))
    references = reference_scores(videos)
    batch = global_batch(videos, mesh)
    state = train.init_sharded_state(config, models, mesh, jax.random.PRNGKey(config.seed))
    step_fn = train.jit_train_step(config, models, mesh)
    adversarial = config.objective == "adversarial"
    eval_key = jax.random.PRNGKey(config.seed + 1)
    window = progress.MetricsWindow()
    curve = []
    for step in range(1, steps + 1):
        state, metrics = step_fn(state, batch)
        window.add(step, metrics)
        if step % eval_every and step != steps:
            continue
        losses = window.mean_and_reset()
        point = evaluate(models, config, state, videos, num_samples, eval_key, adversarial)
        push = point.pop("_push", None)
        samples = point.pop("_samples")[:4, :3]
        write_atomically(
            output / "samples.gif",
            gif_bytes(video_grid(np.concatenate([videos[:4, None], samples], axis=1))),
        )
        point = {"step": step, **point, **losses}
        curve.append(point)
        print(progress_line(point, references, steps), flush=True)
        if push is not None:
            write_atomically(output / "push.png", push_image(push, videos))
    result = summarise(config, kind, curve, references)
    write_json(output / "probe.json", result)
    plots.plot_probe(result, output / "probe.png")
    return result


def passes(point: dict, references: dict) -> bool:
    """Above the cross-fade in SSIM and PSNR, and middle frames that differ across videos
    at least half as much as the real ones do."""
    return (
        point["model_ssim"] > references["crossfade"]["ssim"]
        and point["model_psnr"] > references["crossfade"]["psnr"]
        and point["spread_across_videos"] >= 0.5 * point["real_spread_across_videos"]
    )


def summarise(config, kind: str, curve: list[dict], references: dict) -> dict:
    last = curve[-1]
    passing = [p["step"] for p in curve if passes(p, references)]
    return {
        "kind": kind,
        "steps": last["step"],
        "num_videos": config.batch_size,
        "model_ssim": last["model_ssim"],
        "model_psnr": last["model_psnr"],
        **{
            f"{key}_{metric}": value
            for key, scores in references.items()
            for metric, value in scores.items()
        },
        "spread_across_videos": last["spread_across_videos"],
        "spread_across_noise": last["spread_across_noise"],
        "real_spread_across_videos": last["real_spread_across_videos"],
        "first_passing_step": passing[0] if passing else None,
        "passes_at_end": passes(last, references),
        "curve": curve,
        "config": config.to_dict(),
    }


def progress_line(point: dict, references: dict, steps: int) -> str:
    crossfade, flow = references["crossfade"], references["flow"]
    parts = [
        f"step {point['step']}/{steps}: SSIM {point['model_ssim']:.3f} "
        f"(cross-fade {crossfade['ssim']:.3f}, optical flow {flow['ssim']:.3f})",
        f"PSNR {point['model_psnr']:.2f} dB ({crossfade['psnr']:.2f}, {flow['psnr']:.2f})",
        f"spread across videos {point['spread_across_videos']:.3f} "
        f"(real {point['real_spread_across_videos']:.3f}), "
        f"across noise {point['spread_across_noise']:.3f}",
    ]
    if "unaveraged_ssim" in point:
        parts.append(
            f"unaveraged weights {point['unaveraged_ssim']:.3f}, {point['unaveraged_psnr']:.2f} dB"
        )
    losses = [f"{name} {point[name]:.3f}" for name in ("d_loss", "g_loss") if name in point]
    parts.append(" ".join(losses))
    if "video_push_coarse_cosine_to_real" in point:
        parts.append(
            "push toward real (coarse cosine): video "
            f"{point['video_push_coarse_cosine_to_real']:+.3f}, image "
            f"{point['image_push_coarse_cosine_to_real']:+.3f}"
        )
    return "; ".join(parts)


FLAGS = flags.FLAGS


def define_flags() -> None:
    config_flags.DEFINE_config_file("config", None, "Path to a config file.", lock_config=True)
    flags.DEFINE_enum("kind", "fixed_batch", KINDS, "What to train the fixed batch with.")
    flags.DEFINE_integer("steps", 1000, "Training steps.")
    flags.DEFINE_string("out", None, "Directory for probe.json, probe.png, push.png.")
    command_line.define_renamed_flags(RENAMED_FLAGS)
    flags.DEFINE_integer("num_videos", 8, "Videos in the fixed batch.")
    flags.DEFINE_integer("eval_every", 50, "Steps between evaluations.")
    flags.DEFINE_integer("num_samples", 8, "N of best-of-N.")
    flags.mark_flags_as_required(["config"])
    compilation_cache.define_flags()


def main(argv):
    del argv
    command_line.resolve_renamed_flags(RENAMED_FLAGS)
    compilation_cache.enable(FLAGS.compilation_cache_dir)
    try:
        run_probe(
            FLAGS.config,
            FLAGS.kind,
            FLAGS.steps,
            FLAGS.out,
            FLAGS.num_videos,
            FLAGS.eval_every,
            FLAGS.num_samples,
        )
    except (ConfigError, DatasetError) as error:
        sys.exit(user_error(str(error)))
    except progress.NonFiniteLossError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    print(f"Wrote {os.path.join(FLAGS.out, 'probe.json')} and probe.png")


def cli() -> None:
    """Console-script entry point (setup.cfg); also `python -m inbetweening.tools.probe`."""
    define_flags()
    command_line.run(main)


if __name__ == "__main__":
    cli()
