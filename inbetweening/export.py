"""Exports a trained generator for inference.

python -m inbetweening.export --model=WORKDIR_OR_PARAMS_EXPORT --format=FORMAT --out=OUT

Formats:
  params       OUT/variables (orbax: generator params + batch_stats) and
               OUT/model_config.json: what Inbetweener.load and inbetweening.sample read.
  jax          OUT: a jax.export serialization of tween(key_frames, noise), parameters
               included; call it from any JAX program with
               jax.export.deserialize(open(OUT, "rb").read()).call(key_frames, noise).
  saved_model  OUT: a TensorFlow SavedModel (jax2tf, native serialization) with the
               signature of the TF-Hub tweening modules: its default signature maps
               key frames [B, 2, H, W, C] to in-betweens [B, T-2, H, W, C], drawing the
               noise with tf.random; signature "with_noise" takes the noise as a second
               input, for reproducible output.

Noise is an input of the exported function (not a seed): the same noise gives the same
video in JAX, in the exported function and in TensorFlow. All formats work in pixel
values: float32 0..255 in and out; the batch size B is symbolic. With --size=native the
jax and saved_model exports take frames of any height and width that are multiples of 8
(symbolic shapes); with --size=model (the default), the training size only.
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

from inbetweening.api import ENCODER_STRIDE, SIZES, CheckpointNotFoundError, Inbetweener
from inbetweening.data.pixels import to_model_range, to_pixel_range
from inbetweening.runtime import command_line
from inbetweening.runtime.command_line import user_error
from inbetweening.storage.paths import user_path, write_atomically
from inbetweening.training.evaluations import read_curve

FLAGS = flags.FLAGS

# Lowered for both, so one file serves CPU and GPU programs.
JAX_EXPORT_PLATFORMS = ("cpu", "cuda")


def tween(model: Inbetweener, variables, key_frames: jax.Array, noise: jax.Array):
    """key_frames: float [B, 2, H, W, C] in 0..255; noise: [B, D] standard normal ->
    in-betweens float32 [B, T-2, H, W, C] in 0..255 (unrounded)."""
    frames = to_model_range(key_frames)
    video = model.generator.apply(variables, frames[:, 0], frames[:, 1], noise, train=False)
    return to_pixel_range(video[:, 1:-1])


def frame_dims(model: Inbetweener, size: str) -> tuple[str, str, int]:
    """(H, W, C) of the exported key frames as jax.export dimension expressions: the
    training size, or with size "native" any multiple of ENCODER_STRIDE."""
    if size not in SIZES:
        raise ValueError(f"size={size!r}: must be one of {SIZES}")
    height, width, channels = model.frame_shape
    if size == "native":
        return f"{ENCODER_STRIDE}*h", f"{ENCODER_STRIDE}*w", channels
    return str(height), str(width), channels


def input_specs(model: Inbetweener, size: str = "model") -> tuple[jax.ShapeDtypeStruct, ...]:
    """(key_frames [B, 2, H, W, C], noise [B, D]) with a symbolic batch size B."""
    height, width, channels = frame_dims(model, size)
    batch, height, width = jax.export.symbolic_shape(f"b, {height}, {width}")
    return (
        jax.ShapeDtypeStruct((batch, 2, height, width, channels), jnp.float32),
        jax.ShapeDtypeStruct((batch, model.model_config.noise_dim), jnp.float32),
    )


def export_params(model: Inbetweener, out: str, size: str = "model") -> None:
    """The variables, the model config, and how the model was trained (the run's config,
    steps and held-out scores) when known; `size` is the sampler's choice, not stored."""
    model.write_params(out)


def held_out_scores(workdir: str, step: int) -> dict | None:
    """The held-out scores a training run recorded at `step` (metrics.json), if any."""
    for point in read_curve(workdir, step + 1):
        if point["step"] == step:
            return {k: v for k, v in point.items() if k != "step"}
    return None


def export_jax(model: Inbetweener, out: str, size: str = "model") -> None:
    function = jax.jit(lambda key_frames, noise: tween(model, model.variables, key_frames, noise))
    exported = jax.export.export(function, platforms=JAX_EXPORT_PLATFORMS)(
        *input_specs(model, size)
    )
    write_atomically(out, exported.serialize())


def export_saved_model(model: Inbetweener, out: str, size: str = "model") -> None:
    tf = command_line.import_tensorflow()  # only this format needs TensorFlow
    from jax.experimental import jax2tf

    height, width, channels = frame_dims(model, size)
    noise_dim = model.model_config.noise_dim
    tween_tf = jax2tf.convert(
        lambda variables, key_frames, noise: tween(model, variables, key_frames, noise),
        polymorphic_shapes=[None, f"(b, 2, {height}, {width}, {channels})", f"(b, {noise_dim})"],
        with_gradient=False,
    )
    module = tf.Module()
    # Parameters as tf.Variables rather than graph constants: no 2 GB graph limit.
    module.variables_tree = tf.nest.map_structure(
        lambda x: tf.Variable(np.asarray(x), trainable=False), model.variables
    )
    fixed = lambda dim: int(dim) if dim.isdigit() else None
    frames_spec = tf.TensorSpec([None, 2, fixed(height), fixed(width), channels], tf.float32)

    @tf.function(
        input_signature=[frames_spec, tf.TensorSpec([None, noise_dim], tf.float32)], autograph=False
    )
    def with_noise(key_frames, noise):
        return tween_tf(module.variables_tree, key_frames, noise)

    @tf.function(input_signature=[frames_spec], autograph=False)
    def default(key_frames):
        noise = tf.random.normal([tf.shape(key_frames)[0], noise_dim])
        return tween_tf(module.variables_tree, key_frames, noise)

    module.__call__, module.with_noise = default, with_noise
    tf.saved_model.save(
        module,
        out,
        signatures={"default": default, "serving_default": default, "with_noise": with_noise},
    )


EXPORTERS = {"params": export_params, "jax": export_jax, "saved_model": export_saved_model}
# Old flag names, kept for one release: {old: new}.
RENAMED_FLAGS = {"workdir": "model"}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    command_line.resolve_renamed_flags(RENAMED_FLAGS)
    if user_path(FLAGS.out).exists():
        sys.exit(user_error(f"--out={FLAGS.out} exists; choose a new path"))
    try:
        model = Inbetweener.load(FLAGS.model)
    except CheckpointNotFoundError as error:
        sys.exit(user_error(str(error)))
    if "steps" in model.training_info and "held_out" not in model.training_info:
        scores = held_out_scores(FLAGS.model, model.training_info["steps"])
        if scores:
            model.training_info["held_out"] = scores
    EXPORTERS[FLAGS.format](model, FLAGS.out, FLAGS.size)
    print(f"{FLAGS.format} export: {FLAGS.out}")


def define_flags() -> None:
    """Only when run as a program, so that importing this module defines no flags."""
    flags.DEFINE_string("model", None, "A training work directory or a params export.")
    command_line.define_renamed_flags(RENAMED_FLAGS)
    flags.DEFINE_enum("format", None, list(EXPORTERS), "What to write.")
    flags.DEFINE_string("out", None, "Output path (must not exist).")
    flags.DEFINE_enum(
        "size",
        "model",
        list(SIZES),
        "jax and saved_model: frames of the training size only (model), or of any height "
        "and width that are multiples of 8 (native, symbolic shapes).",
    )
    flags.mark_flags_as_required(["format", "out"])


def cli() -> None:
    """Console-script entry point (setup.cfg); also `python -m inbetweening.export`."""
    define_flags()
    command_line.run(main)


if __name__ == "__main__":
    cli()
