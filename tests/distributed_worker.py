"""One process of a multi-process job started by tests/test_distributed.py.

    python tests/distributed_worker.py --coordinator_address=127.0.0.1:PORT
        --num_processes=2 --process_id=I --task=train|die --output=PATH

train: NUM_STEPS train steps of the tiny model over the global mesh (with --mesh_fsdp
devices per parameter shard), this process feeding its slice of each global batch; after
the first step the state is checkpointed by both processes together and the run goes on
from the restored checkpoint; process 0 writes the metrics, the final state and how many of
its arrays are sharded to --output.
gather: validation.gather_rows of process p's p + 1 rows of value p; process 0 writes it.
die: process 1 exits at once without a goodbye; process 0 waits in a cross-process
collective that can only end by the coordination service noticing the death.
"""

import os
import sys

import jax
import numpy as np
from absl import app, flags
from jax.experimental import multihost_utils

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from inbetweening.eval import validation  # noqa: E402
from inbetweening.models import create_models  # noqa: E402
from inbetweening.runtime import command_line, compilation_cache, distributed, sharding  # noqa: E402
from inbetweening.training import train  # noqa: E402
from inbetweening.training.checkpoints import TrainingCheckpoints  # noqa: E402

from tiny_setup import (  # noqa: E402
    REFERENCE_BATCH,
    REFERENCE_STEPS,
    equivalence_config,
    initial_state,
    random_videos,
)

# The steps of the tests' reference (tests/tiny_setup.py reference_steps).
GLOBAL_BATCH, NUM_STEPS = REFERENCE_BATCH, REFERENCE_STEPS

distributed.define_flags()
flags.DEFINE_enum("task", "train", ["train", "die", "gather"], "What this job does.")
flags.DEFINE_string("output", None, "Process 0 writes its results here (.npz).")
flags.DEFINE_integer("mesh_fsdp", 1, "config.mesh_fsdp.")
FLAGS = flags.FLAGS


def _host(tree, mesh):
    """The whole values of a tree of global arrays on `mesh`, as numpy arrays: one program
    for the tree (multihost_utils.process_allgather runs one per array: seconds here)."""
    gathered = jax.jit(lambda tree: tree, out_shardings=sharding.replicated(mesh))(tree)
    return jax.tree.map(np.asarray, gathered)


def run_steps(output: str, mesh_fsdp: int) -> None:
    config = equivalence_config(GLOBAL_BATCH)
    config.mesh_fsdp = mesh_fsdp
    models = create_models(config.model)
    mesh = sharding.make_mesh(fsdp=config.mesh_fsdp)
    state = initial_state(config, models)
    state = jax.tree.map(
        lambda leaf, sharding: jax.make_array_from_callback(
            leaf.shape, sharding, lambda index: leaf[index]
        ),
        state,
        sharding.state_shardings(state, mesh),
    )
    per_process = GLOBAL_BATCH // jax.process_count()
    first = jax.process_index() * per_process
    step_fn = train.jit_train_step(config, models, mesh)
    metrics = []
    for step, videos in enumerate(random_videos(NUM_STEPS, GLOBAL_BATCH)):
        if step == 1:
            state = save_and_restore(state, config, os.path.dirname(output))
        state, step_metrics = step_fn(
            state, sharding.global_batch(videos[first : first + per_process], mesh)
        )
        metrics.append(_host(step_metrics, mesh))
    sharded = sum(not leaf.sharding.is_fully_replicated for leaf in jax.tree.leaves(state))
    values = jax.tree_util.tree_leaves_with_path(_host(state, mesh))
    if jax.process_index() == 0:
        np.savez(
            output,
            sharded_leaves=sharded,
            **{f"metrics{i}/{k}": v for i, m in enumerate(metrics) for k, v in m.items()},
            **{jax.tree_util.keystr(path): value for path, value in values},
        )


def save_and_restore(state, config, workdir: str):
    """The state after a round trip through a checkpoint that every process writes its
    shards of, read back by a fresh manager into the same sharded layout."""
    checkpoints = TrainingCheckpoints(workdir, keep=1)
    checkpoints.save(1, state, config)
    checkpoints.close()
    abstract = jax.tree.map(
        lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=leaf.sharding), state
    )
    return TrainingCheckpoints(workdir, keep=1, read_only=True).restore(1, abstract)


def gather(output: str) -> None:
    index = jax.process_index()
    rows = validation.gather_rows(np.full((index + 1, 3), index, np.float32))
    if index == 0:
        np.save(output, rows)


def main(argv):
    del argv
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    distributed.initialize(FLAGS)
    # As main.py: the session's JAX_COMPILATION_CACHE_DIR is not for several CPU processes,
    # and the start-up heap is frozen (command_line.run).
    compilation_cache.enable("")
    command_line.freeze_start_up_heap()
    if FLAGS.task == "train":
        run_steps(FLAGS.output, FLAGS.mesh_fsdp)
    elif FLAGS.task == "gather":
        gather(FLAGS.output)
    elif jax.process_index() == 1:
        os._exit(0)
    else:
        multihost_utils.sync_global_devices("never reached by process 1")
        print("process 0 passed a barrier that process 1 never reached", flush=True)


if __name__ == "__main__":
    app.run(main)
