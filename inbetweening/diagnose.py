"""Why a training run in-betweens or not: CLI over a work directory's latest checkpoint.

    python -m inbetweening.diagnose --workdir=DIR [--num_videos=32]

prints JSON with
- influence: mean absolute change (0..255) of the generated middle frames, per middle
  frame, when the start frame, the end frame or the noise is replaced by another held-out
  example's (everything else fixed). A generator that ignores its key frames shows ~0
  for them; the start frame should matter most early, the end frame late.
- gradient_norms: the global norm of each module's gradient at that state, on one
  training batch: the generator's modules from the generator loss, the discriminators'
  from their loss (penalty included).
- losses: the losses of that batch, for the balance of the discriminators against the
  generator.
"""

import json
import os
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from absl import flags

from inbetweening import command_line, objectives
from inbetweening.checkpoint import NoIntactCheckpointError, TrainingCheckpoints, checkpoint_dir
from inbetweening.command_line import user_error
from inbetweening.data import input_pipeline
from inbetweening.inference import generator_variables, sample_inbetweens
from inbetweening.models import create_models
from inbetweening.pixels import to_model_range


def key_frame_influence(generator, variables, real: np.ndarray, key: jax.Array) -> dict:
    """real: uint8 [N, T, H, W, C], N >= 2. {"start" | "end" | "noise": [T - 2] mean
    absolute change of each middle frame}."""
    start, end = real[:, 0], real[:, -1]
    other = lambda frames: np.roll(frames, 1, axis=0)
    generate = lambda s, e, k: sample_inbetweens(generator, variables, s, e, 1, k)[
        :, 0, 1:-1
    ].astype(np.float64)
    reference = generate(start, end, key)
    changed = {
        "start": generate(other(start), end, key),
        "end": generate(start, other(end), key),
        "noise": generate(start, end, jax.random.fold_in(key, 1)),
    }
    return {
        name: np.abs(video - reference).mean(axis=(0, 2, 3, 4)).round(2).tolist()
        for name, video in changed.items()
    }


def gradient_norms(
    config: ml_collections.ConfigDict, models, state: dict, videos: np.ndarray, key: jax.Array
) -> tuple[dict, dict]:
    """(norm per module, losses) of one training batch videos uint8 [B, T, H, W, C]."""
    real = to_model_range(videos)
    noise_key, frame_key = jax.random.split(key)
    noise = jax.random.normal(noise_key, (len(real), config.model.noise_dim))
    frame_index = objectives.sample_frame_index(config, frame_key, len(real), real.shape[1])

    def generator_loss(g_params):
        fake = objectives.generate_in_training(
            models.generator, g_params, state["g_batch_stats"], real, noise
        )[0]
        # The generator's loss as train_step has it, the L1 term included when configured.
        g_loss = objectives.generator_objective(
            fake,
            state["d_params"],
            frame_index,
            models,
            real,
            config.get("reconstruction_weight", 0.0),
        )[0]
        return g_loss, fake

    (g_loss, fake), g_grads = jax.jit(jax.value_and_grad(generator_loss, has_aux=True))(
        state["g_params"]
    )
    d_objective = lambda d_params, fake: objectives.discriminator_objective(
        d_params,
        real,
        fake,
        frame_index,
        models,
        config.gradient_penalty,
        config.get("mismatched_key_frames", False),
    )
    d_grads, d_metrics = jax.jit(jax.grad(d_objective, has_aux=True))(state["d_params"], fake)
    norms = {f"generator/{name}": optax.tree.norm(tree) for name, tree in g_grads.items()}
    norms.update({f"discriminator/{name}": optax.tree.norm(tree) for name, tree in d_grads.items()})
    losses = {"g_loss": g_loss, **d_metrics}
    as_floats = lambda tree: {k: round(float(v), 5) for k, v in tree.items()}
    return as_floats(norms), as_floats(losses)


def diagnose(workdir: str, num_videos: int) -> dict:
    if not os.path.isdir(checkpoint_dir(workdir)):
        raise FileNotFoundError(
            f"{workdir}: no checkpoints/ directory (not a training work directory?)"
        )
    checkpoints = TrainingCheckpoints(workdir, keep=1, read_only=True)
    if not checkpoints.all_steps():
        raise FileNotFoundError(f"{checkpoint_dir(workdir)} holds no complete checkpoint")
    step, state, meta = checkpoints.restore_raw_intact(best_first=False)
    state = jax.tree.map(jnp.asarray, state)
    config = ml_collections.ConfigDict(meta["config"])
    models = create_models(config.model)
    key = jax.random.PRNGKey(config.seed)
    variables = generator_variables(state)
    real = input_pipeline.held_out_videos(config, num_videos)
    batch = next(input_pipeline.train_batches(config, step, 0, 1))
    norms, losses = gradient_norms(config, models, state, batch, key)
    return {
        "step": step,
        "influence": key_frame_influence(models.generator, variables, real, key),
        "gradient_norms": norms,
        "losses": losses,
    }


FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("workdir", None, "Training work directory with checkpoints/.")
    flags.DEFINE_integer("num_videos", 32, "Held-out videos for the influence measurement.")
    flags.mark_flags_as_required(["workdir"])


def main(argv):
    del argv
    try:
        print(json.dumps(diagnose(FLAGS.workdir, FLAGS.num_videos), indent=1))
    except (FileNotFoundError, NoIntactCheckpointError) as error:
        sys.exit(user_error(str(error)))


def cli() -> None:
    """Console-script entry point (setup.cfg); also `python -m inbetweening.diagnose`."""
    define_flags()
    command_line.run(main)


if __name__ == "__main__":
    cli()
