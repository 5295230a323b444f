"""Why a training run in-betweens or not: CLI over a work directory's latest checkpoint.

    python -m inbetweening.tools.diagnose --workdir=DIR [--num_videos=32]

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
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from absl import flags

from inbetweening.config.migration import migrate
from inbetweening.data import input_pipeline
from inbetweening.data.pixels import to_model_range
from inbetweening.models import create_models
from inbetweening.models.sampling import sample_inbetweens
from inbetweening.runtime import command_line
from inbetweening.runtime.command_line import user_error
from inbetweening.training import objectives
from inbetweening.training.checkpoints import (
    NoIntactCheckpointError,
    TrainingCheckpoints,
    checkpoint_dir,
)
from inbetweening.training.trained_models import generator_variables


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
    """(norm per module, losses) of one training batch videos uint8 [B, T, H, W, C], as the
    train step computes them (objectives.step_gradients), with the generator's gradient
    taken against the discriminators as they are (not updated)."""
    real = to_model_range(videos)
    noise, frame_index = objectives.random_draws(config, key, *real.shape[:2])
    g_variables = {"params": state["g_params"], "batch_stats": state["g_batch_stats"]}
    keep = lambda d_grads: (state["d_params"], None)

    @jax.jit
    def norms_and_losses(g_variables, d_params):
        step = objectives.step_gradients(
            models, config, g_variables, d_params, real, noise, frame_index, keep
        )
        grads = {f"generator/{name}": tree for name, tree in step.g_grads.items()}
        grads.update({f"discriminator/{name}": tree for name, tree in (step.d_grads or {}).items()})
        return {name: optax.tree.norm(tree) for name, tree in grads.items()}, step.metrics

    norms, losses = norms_and_losses(g_variables, state["d_params"])
    as_floats = lambda tree: {k: round(float(v), 5) for k, v in tree.items()}
    return as_floats(norms), as_floats(losses)


def diagnose(workdir: str, num_videos: int) -> dict:
    if not checkpoint_dir(workdir).is_dir():
        raise FileNotFoundError(
            f"{workdir}: no checkpoints/ directory (not a training work directory?)"
        )
    checkpoints = TrainingCheckpoints(workdir, keep=1, read_only=True)
    if not checkpoints.all_steps():
        raise FileNotFoundError(f"{checkpoint_dir(workdir)} holds no complete checkpoint")
    step, state, meta = checkpoints.restore_raw_intact(best_first=False)
    state = jax.tree.map(jnp.asarray, state)
    config = migrate(meta["config"])
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
    """Console-script entry point (setup.cfg); also `python -m inbetweening.tools.diagnose`."""
    define_flags()
    command_line.run(main)


if __name__ == "__main__":
    cli()
