"""Host time per training step: the real loop (train.train_loop: the metrics summed and
checked on the devices, the batches put on the devices two ahead, the progress line and
its TensorBoard values) around a stand-in step that does no work, at the config's batch
(the paper's: 32 clips of 16x64x64x3); printed as one JSON object.

    PYTHONPATH=. python benchmarks/host_time.py [--steps=300] [--inputs=none,synthetic,prepared]
    PYTHONPATH=. python benchmarks/host_time.py --cores=1 --inputs=synthetic   # one core
    PYTHONPATH=. python benchmarks/host_time.py --config.steps_per_call=4   # 4 steps a call

The stand-in step has the real step's signature, shardings, donation and metrics (their
names from tracing the real step, which compiles nothing), and state leaves of the real
TrainState's number and dtypes but no size, so dispatching it costs what dispatching the
real step costs and its device work is nil: the loop runs as fast as the host lets it.

Inputs:
- none: four batches already in memory, over and over: the loop's host time with the
  real step's dispatch (each of the state's arrays costs the host microseconds as an
  output of the step);
- none_one_leaf_state: the same with a state of one array: the loop's own host time;
- synthetic: the embedded dataset, drawn by its reading threads while the loop runs;
- prepared: a BAIR-format fixture of random frames (the costliest to decode), prepared in
  a temporary folder and read by grain.
For each: ms per step, of which waiting for the next batch on the devices (input bound:
the pipeline and the transfer, both off the loop's thread) and the rest, the loop's own
host time (target: at most 2 ms); clips/s, and clips/s
per core, assuming the input's throughput scales with the cores this process may use: its
readers are one thread per core whose array work (numpy, TensorFlow's decoding) releases
the GIL (target: 100 clips/s per core, 32 clips every 20 ms on a 16-core host). The first
log window (compilation, the readers filling their queues) is not timed.
"""

import itertools
import json
import os
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags
from ml_collections import config_flags

from inbetweening.config.validation import validate
from inbetweening.data import input_pipeline
from inbetweening.models import create_models
from inbetweening.runtime.sharding import batch_sharding, make_mesh, replicated, state_shardings
from inbetweening.training import progress, reporting, train

config_flags.DEFINE_config_file(
    "config", "configs/base.py", "Config file (the paper's by default).", lock_config=False
)
_STEPS = flags.DEFINE_integer("steps", 300, "Timed steps per input, after one log window.")
_LOG_EVERY = flags.DEFINE_integer("log_every", None, "Steps per log window; default: config's.")
_INPUTS = flags.DEFINE_list(
    "inputs", ["none", "none_one_leaf_state", "synthetic", "prepared"], "Inputs to time."
)
_FIXTURE_SEQUENCES = flags.DEFINE_integer("fixture_sequences", 64, "Sequences in the fixture.")
_CORES = flags.DEFINE_integer("cores", None, "Cores to run on (CPU affinity); default: all.")

TARGET_LOOP_MS_PER_STEP = 2.0
TARGET_CLIPS_PER_SECOND_PER_CORE = 32 / 0.020 / 16


def stand_in_step(config, models, mesh, one_leaf_state: bool = False):
    """(jitted step, its initial state): the real step's signature, shardings, donation
    and metrics; state leaves of no size (or, one_leaf_state, only the step counter); no
    work but reading one pixel of the batch."""
    shapes = train.abstract_train_state(config, models)
    real_step = lambda state, videos: train.train_step(
        state,
        videos,
        models=models,
        config=config,
        g_tx=train.create_optimizer(config, config.learning_rate),
        d_tx=train.create_optimizer(config, config.discriminator_learning_rate),
    )
    m = config.model
    batch = jax.ShapeDtypeStruct(
        (config.batch_size, m.num_frames, m.image_size, m.image_size, m.image_channels),
        jnp.uint8,
    )
    metric_names = list(jax.eval_shape(real_step, shapes, batch)[1])
    steps_per_call = config.steps_per_call
    state = jax.tree.map(lambda leaf: np.zeros((), leaf.dtype), shapes)
    if one_leaf_state:
        state = state.step
    sharding = state_shardings(state, mesh)

    def step(state, videos):
        # Steps taken K per call (config.steps_per_call): batches [K, B, ...], metrics [K].
        pixels = videos.reshape(steps_per_call, -1)[:, 0].astype(jnp.float32)
        pixel = pixels if steps_per_call > 1 else pixels[0]
        metrics = {name: pixel + index for index, name in enumerate(metric_names)}
        if one_leaf_state:
            return state + steps_per_call, metrics
        return state.replace(step=state.step + steps_per_call), metrics

    jitted = jax.jit(
        step,
        in_shardings=(sharding, batch_sharding(mesh, stacked=steps_per_call > 1)),
        out_shardings=(sharding, replicated(mesh)),
        donate_argnums=0,
    )
    return jitted, jax.device_put(state, sharding)


def local_batches(config, name: str, data_dir: str | None):
    if name in ("none", "none_one_leaf_state"):
        m = config.model
        shape = (config.batch_size, m.num_frames, m.image_size, m.image_size, m.image_channels)
        rng = np.random.default_rng(0)
        return itertools.cycle([rng.integers(0, 256, shape, np.uint8) for _ in range(4)])
    config = config.copy_and_resolve_references()
    if name == "prepared":
        config.data.name, config.data.data_dir = "bair", data_dir
    else:
        config.data.name = "synthetic"
    return input_pipeline.train_batches(config, 0, 0, 1)


def measure(config, models, mesh, batches, workdir: str, one_leaf_state: bool) -> dict:
    """Runs train_loop over one untimed log window and then _STEPS.value steps."""
    step_fn, state = stand_in_step(config, models, mesh, one_leaf_state)
    log_every = _LOG_EVERY.value or config.log_every_steps
    config = config.copy_and_resolve_references()
    config.log_every_steps = log_every
    config.num_train_steps = log_every + _STEPS.value
    config.sample_every_steps = config.checkpoint_every_steps = config.num_train_steps
    waited, log_times = [0.0], []

    def timed(batches):
        while True:
            start = time.perf_counter()
            batch = next(batches)
            waited[0] += time.perf_counter() - start
            yield batch

    reporter = reporting.Reporter(workdir)

    def log(step, means):
        progress.log_progress(step, config.num_train_steps, means, reporter)
        log_times.append(time.perf_counter())
        if step == log_every:
            waited[0] = 0.0

    train.train_loop(
        config,
        state,
        step_fn,
        timed(input_pipeline.device_batches(batches, mesh, steps_per_call=config.steps_per_call)),
        1,
        log=log,
        sample=lambda state: None,
        checkpoint=lambda step, state: None,
    )
    seconds = log_times[-1] - log_times[0]
    steps = _STEPS.value
    clips_per_second = steps * config.batch_size / seconds
    cores = len(os.sched_getaffinity(0))
    return {
        "ms_per_step": round(1e3 * seconds / steps, 3),
        "input_wait_ms_per_step": round(1e3 * waited[0] / steps, 3),
        "loop_ms_per_step": round(1e3 * (seconds - waited[0]) / steps, 3),
        "clips_per_second": round(clips_per_second, 1),
        "clips_per_second_per_core": round(clips_per_second / cores, 1),
    }


def main(argv):
    del argv  # Everything comes in through flags.
    if _CORES.value is not None:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: _CORES.value])
    config = flags.FLAGS.config
    validate(config, jax.device_count())
    models = create_models(config.model)
    mesh = make_mesh(fsdp=config.mesh_fsdp)
    results = {}
    with tempfile.TemporaryDirectory(prefix="host_time_benchmark_") as directory:
        data_dir = None
        if "prepared" in _INPUTS.value:
            from benchmarks import fixtures  # TensorFlow, only for the prepared input

            data_dir = fixtures.prepared_bair_fixture(directory, _FIXTURE_SEQUENCES.value)
        for name in _INPUTS.value:
            batches = local_batches(config, name, data_dir)
            results[name] = measure(
                config,
                models,
                mesh,
                batches,
                os.path.join(directory, name),
                one_leaf_state=name == "none_one_leaf_state",
            )
    print(
        json.dumps(
            {
                "batch_size": config.batch_size,
                "num_frames": config.model.num_frames,
                "image_size": config.model.image_size,
                "devices": jax.device_count(),
                "platform": jax.devices()[0].platform,
                "cores": len(os.sched_getaffinity(0)),
                "state_leaves": len(jax.tree.leaves(train.abstract_train_state(config, models))),
                "steps_per_call": config.steps_per_call,
                "timed_steps": _STEPS.value,
                "log_every_steps": _LOG_EVERY.value or config.log_every_steps,
                "inputs": results,
                "target_loop_ms_per_step": TARGET_LOOP_MS_PER_STEP,
                "target_clips_per_second_per_core": TARGET_CLIPS_PER_SECOND_PER_CORE,
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
