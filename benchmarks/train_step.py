"""Train-step throughput against this machine's own dense matmul and conv3d rates.

    python benchmarks/train_step.py --config=configs/demo.py [--config.batch_size=8]

Prints one JSON object: the seconds to compile the step (and the tracing and lowering part of
them, and the garbage collector's share of that part), steps/s, achieved GFLOP/s (XLA
cost-analysis FLOPs of the step, loop bodies counted per iteration as in `--mode=summary`, /
measured time), the matmul and conv3d GFLOP/s measured in the same run, and the ratio of the
step's rate to conv3d's. The process freezes its start-up heap as the command lines do
(command_line.freeze_start_up_heap); --nofreeze_start_up_heap measures without.
"""

import gc
import json
import time

import jax
import numpy as np
from absl import app, flags
from ml_collections import config_flags

from inbetweening.config.validation import validate
from inbetweening.models import create_models
from inbetweening.models.convolutions import strided_conv
from inbetweening.runtime import command_line, sharding
from inbetweening.tools import summary
from inbetweening.training import train

config_flags.DEFINE_config_file("config", None, "Config file.", lock_config=True)
flags.DEFINE_integer("repeats", 3, "Timed steps after the compile step.")
flags.DEFINE_bool("reference_rates", True, "Also measure matmul and conv3d GFLOP/s.")
flags.DEFINE_bool("freeze_start_up_heap", True, "As the command lines do (command_line.run).")
FLAGS = flags.FLAGS


def timed(fn, *args, repeats: int) -> tuple[float, float]:
    """(seconds per call after one warm-up call, XLA FLOPs per call)."""
    compiled = jax.jit(fn).lower(*args).compile()
    jax.block_until_ready(compiled(*args))
    start = time.perf_counter()
    for _ in range(repeats):
        out = compiled(*args)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / repeats, compiled.cost_analysis()["flops"]


def reference_rates(repeats: int) -> dict[str, float]:
    """GFLOP/s of a 2048^2 matmul and of a 3x3x3 64->64 convolution on [8, 16, 32, 32]."""
    key = jax.random.PRNGKey(0)
    matrix = jax.random.normal(key, (2048, 2048))
    seconds, flops = timed(lambda a: a @ a, matrix, repeats=repeats)
    video = jax.random.normal(key, (8, 16, 32, 32, 64))
    kernel = jax.random.normal(key, (3, 3, 3, 64, 64))
    conv = lambda x, k: strided_conv(x, k, (1, 1, 1), [(1, 1)] * 3, "xla")
    conv_seconds, conv_flops = timed(conv, video, kernel, repeats=repeats)
    return {
        "matmul_gflops": flops / seconds / 1e9,
        "conv3d_gflops": conv_flops / conv_seconds / 1e9,
    }


class CollectorClock:
    """Seconds the cyclic garbage collector runs while registered (gc.callbacks)."""

    def __init__(self):
        self.seconds, self._start = 0.0, 0.0
        gc.callbacks.append(self)

    def __call__(self, phase, info):
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start


def main(_):
    if FLAGS.freeze_start_up_heap:
        command_line.freeze_start_up_heap()
    config = FLAGS.config
    validate(config, jax.device_count())
    models = create_models(config.model)
    mesh = sharding.make_mesh(fsdp=config.mesh_fsdp)
    state = train.init_sharded_state(config, models, mesh, jax.random.PRNGKey(0))
    m = config.model
    videos = np.random.default_rng(0).integers(
        0,
        256,
        (config.batch_size, m.num_frames, m.image_size, m.image_size, m.image_channels),
        dtype=np.uint8,
    )
    batch = sharding.global_batch(videos, mesh)
    step = train.jit_train_step(config, models, mesh)
    collector = CollectorClock()
    start = time.perf_counter()
    lowered = step.lower(state, batch)
    lowering_seconds = time.perf_counter() - start
    gc.callbacks.remove(collector)
    compiled = lowered.compile()
    compile_seconds = time.perf_counter() - start
    flops = summary.flops(step, state, batch)
    state, metrics = compiled(state, batch)
    jax.block_until_ready(metrics)
    start = time.perf_counter()
    for _ in range(FLAGS.repeats):
        state, metrics = compiled(state, batch)
    jax.block_until_ready(metrics)
    seconds = (time.perf_counter() - start) / FLAGS.repeats
    step_gflops = flops / seconds / 1e9
    result = {
        "device": jax.devices()[0].device_kind,
        "num_devices": jax.device_count(),
        "batch_size": config.batch_size,
        "image_size": m.image_size,
        "conv_impl": m.conv_impl,
        "compute_dtype": m.compute_dtype,
        # The first step's wait: tracing and lowering (lowering_seconds), then XLA.
        "compile_seconds": round(compile_seconds, 1),
        "lowering_seconds": round(lowering_seconds, 1),
        "lowering_gc_seconds": round(collector.seconds, 2),
        "seconds_per_step": round(seconds, 3),
        "steps_per_second": round(1 / seconds, 3),
        "train_step_gflop": round(flops / 1e9, 1),
        "train_step_gflops": round(step_gflops, 1),
        # The partitioned program of one device; XLA counts loop bodies once here.
        "xla_gflop_per_device": round(compiled.cost_analysis()["flops"] / 1e9, 2),
        **peak_memory(compiled),
    }
    if FLAGS.reference_rates:
        rates = reference_rates(FLAGS.repeats)
        result.update({k: round(v, 1) for k, v in rates.items()})
        result["step_to_conv3d_ratio"] = round(step_gflops / rates["conv3d_gflops"], 3)
    print(json.dumps(result))


def peak_memory(compiled) -> dict[str, int]:
    """Bytes per device from the compiled step's memory analysis: arguments + outputs +
    temporaries, less the outputs that reuse argument buffers (the donated state)."""
    memory = compiled.memory_analysis()
    peak = (
        memory.argument_size_in_bytes
        + memory.output_size_in_bytes
        + memory.temp_size_in_bytes
        - memory.alias_size_in_bytes
    )
    return {"temp_bytes": memory.temp_size_in_bytes, "peak_bytes_per_device": peak}


if __name__ == "__main__":
    flags.mark_flags_as_required(["config"])
    app.run(main)
