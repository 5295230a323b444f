"""Evaluation at full-split scale: the paper's protocol (eval/protocol.py, as --mode=eval
runs it) for a model on a fixture split of --num_clips clips (3,783: UCF101's test split)
of 16x64x64x3 synthetic videos, --num_generations generations each (random weights: the
cost does not depend on them); printed as one JSON object.

    PYTHONPATH=. python benchmarks/full_split_eval.py                     # narrow, on CPU
    PYTHONPATH=. python benchmarks/full_split_eval.py --width=0 --fvd     # the paper's, GPU
    PYTHONPATH=. python benchmarks/full_split_eval.py --num_clips=64 --scaling_clips=32

Reports seconds of generation (every round, sample_inbetweens in calls of
config.batch_size pairs over this process's devices), of the I3D embeddings (--fvd; else
a stand-in of per-frame mean colours, as FVD's I3D at 224x224 runs at 0.4 videos/s on a
CPU), and of the best-of-N SSIM (the rest of the protocol: Frechet distances and bootstrap
intervals take milliseconds), then of the held-out table's per-generation SSIM and PSNR
(middle_frames.generation_scores) on one round. Memory: resident set after the model is
made, after the real split is in memory, and the peak (getrusage); the protocol holds the
real split and one round of generations (uint8) by design, `arrays_mb`, so the peak
above the model's (`peak_above_model_mb`) is those plus what the evaluation itself adds,
`peak_above_model_and_arrays_mb` (its compiled calls, chunks in flight, temporaries).

--scaling_devices: generation alone of --scaling_clips clips by a generator of
--scaling_width channels, in a subprocess per device count on the CPU, with
XLA_FLAGS=--xla_force_host_platform_device_count=N (simulated CPU devices sharing this
machine's cores: the time falls only while there are cores for the devices, so on 2 cores
only up to 2 devices); empty: none.
"""

import json
import os
import resource
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags
from ml_collections import config_flags

from inbetweening.data import input_pipeline
from inbetweening.eval import chunks, fvd, middle_frames, protocol, ssim
from inbetweening.eval.validation import model_method
from inbetweening.models import create_models

config_flags.DEFINE_config_file(
    "config", "configs/base.py", "Config file (the paper's by default).", lock_config=False
)
_NUM_CLIPS = flags.DEFINE_integer("num_clips", 3783, "Clips in the split.")
_NUM_GENERATIONS = flags.DEFINE_integer("num_generations", 4, "Generations per clip.")
_WIDTH = flags.DEFINE_integer(
    "width", 8, "Channels of every generator layer (E, G_Z, G_V); 0: the config's widths."
)
_FVD = flags.DEFINE_bool("fvd", False, "Embed with I3D at 224x224 (an accelerator's job).")
_SCALING_DEVICES = flags.DEFINE_list(
    "scaling_devices", ["1", "2", "4", "8"], "Simulated CPU device counts to time."
)
_SCALING_CLIPS = flags.DEFINE_integer("scaling_clips", 256, "Clips of the scaling runs.")
_SCALING_WIDTH = flags.DEFINE_integer("scaling_width", 8, "--width of the scaling runs.")
_GENERATION_ONLY = flags.DEFINE_bool(
    "generation_only", False, "Time one round of generation only (a scaling run's process)."
)


def _megabytes(count_bytes: float) -> float:
    return round(count_bytes / 2**20, 1)


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return _megabytes(int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))


def _peak_rss_mb() -> float:
    return _megabytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def _model(config):
    m = config.model
    if _WIDTH.value:
        m.encoder_channels = m.video_generator_channels = (_WIDTH.value,) * 6
        m.latent_channels = _WIDTH.value
    generator = create_models(m).generator
    frames = jnp.zeros((1, m.image_size, m.image_size, m.image_channels))
    init = jax.jit(lambda key: generator.init(key, frames, frames, jnp.zeros((1, m.noise_dim))))
    variables = init(jax.random.PRNGKey(0))
    params = sum(x.size for x in jax.tree.leaves(variables["params"]))
    return generator, variables, params


def _real_split(config, count: int) -> np.ndarray:
    """The synthetic test split's first `count` videos (those --mode=eval reads) uint8
    [count, T, H, W, C], made a batch at a time by reading threads (one per core), each
    batch written into the one array."""
    m = config.model
    offset = input_pipeline.SYNTHETIC_SPLIT_OFFSETS["test"]
    real = np.empty((count, m.num_frames, m.image_size, m.image_size, m.image_channels), np.uint8)

    def fill(first: int) -> None:
        rows = range(first, min(count, first + config.batch_size))
        real[rows.start : rows.stop] = input_pipeline.synthetic_videos(
            config, range(offset + rows.start, offset + rows.stop)
        )

    batches = range(0, count, config.batch_size)
    for _ in input_pipeline.ReadAhead(fill, batches, len(os.sched_getaffinity(0))):
        pass
    return real


def _mean_colours(videos: np.ndarray) -> np.ndarray:
    """A stand-in embedding [N, T * C]: each frame's mean colour."""
    return videos.mean(axis=(2, 3), dtype=np.float64).reshape(len(videos), -1)


class Timed:
    """A function whose calls' seconds add up in .seconds (results waited for)."""

    def __init__(self, fn):
        self.fn, self.seconds = fn, 0.0

    def __call__(self, *args):
        start = time.perf_counter()
        result = jax.block_until_ready(self.fn(*args))
        self.seconds += time.perf_counter() - start
        return result


def generation_seconds(config, generator, variables, real: np.ndarray) -> float:
    """One round of generation for `real`'s key frames, after a compiling call."""
    method = model_method(generator, variables, config.batch_size)
    key = jax.random.PRNGKey(1)
    method(real[: config.batch_size, 0], real[: config.batch_size, -1], key)
    start = time.perf_counter()
    method(real[:, 0], real[:, -1], key)
    return time.perf_counter() - start


def protocol_run(config, generator, variables, real: np.ndarray) -> dict:
    """The protocol on `real` with --num_generations rounds: seconds and memory."""
    generate = Timed(model_method(generator, variables, config.batch_size))
    embed = Timed(
        fvd.i3d_embedding_fn(batch_size=config.eval.embedding_batch_size)
        if _FVD.value
        else _mean_colours
    )
    # Compiled first, for the shapes of the calls below: compile time is not the split's.
    warm = real[: max(config.batch_size, chunks.call_size((1, *real.shape[1:])))]
    warm_videos = generate.fn(warm[:, 0], warm[:, -1], jax.random.PRNGKey(2))
    embed.fn(warm)
    ssim.best_ssim(warm_videos[:, None], warm)
    middle_frames.generation_scores(warm_videos[:, None], warm)
    start = time.perf_counter()
    real_embeddings = embed(real)
    metrics = protocol.method_metrics(
        real,
        generate,
        _NUM_GENERATIONS.value,
        real_embeddings,
        embed,
        config.eval.num_bootstrap_resamples,
        jax.random.PRNGKey(config.seed),
    )
    total = time.perf_counter() - start
    last_round = generate.fn(real[:, 0], real[:, -1], jax.random.PRNGKey(3))
    start = time.perf_counter()
    middle_frames.generation_scores(last_round[:, None], real)
    scores_seconds = time.perf_counter() - start
    return {
        "generation_seconds": round(generate.seconds, 2),
        "embedding_seconds": round(embed.seconds, 2),
        "ssim_seconds": round(total - generate.seconds - embed.seconds, 2),
        "ssim_psnr_one_round_seconds": round(scores_seconds, 2),
        "mean_best_ssim": round(metrics["ssim"]["mean"], 4),
    }


def scaling_runs() -> list[dict]:
    runs = []
    for devices in map(int, _SCALING_DEVICES.value):
        env = {
            **os.environ,
            "JAX_PLATFORMS": "cpu",
            "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        }
        command = [
            sys.executable,
            os.path.abspath(__file__),
            "--generation_only",
            f"--num_clips={_SCALING_CLIPS.value}",
            f"--width={_SCALING_WIDTH.value}",
            f"--config={flags.FLAGS['config'].config_filename}",
        ]
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"{devices} devices: {result.stderr.strip()[-2000:]}")
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return runs


def main(argv):
    del argv  # Everything comes in through flags.
    config = flags.FLAGS.config
    generator, variables, params = _model(config)
    rss_model = _rss_mb()
    real = _real_split(config, _NUM_CLIPS.value)
    if _GENERATION_ONLY.value:
        seconds = generation_seconds(config, generator, variables, real)
        print(json.dumps({"devices": jax.device_count(), "generation_seconds": round(seconds, 2)}))
        return
    rss_real = _rss_mb()
    timings = protocol_run(config, generator, variables, real)
    arrays = 2 * real.nbytes
    peak = _peak_rss_mb()
    print(
        json.dumps(
            {
                "num_clips": len(real),
                "num_generations": _NUM_GENERATIONS.value,
                "video_shape": list(real.shape[1:]),
                "generator_params": int(params),
                "width": _WIDTH.value or "config",
                "fvd": _FVD.value,
                "platform": jax.devices()[0].platform,
                "devices": jax.device_count(),
                "videos_per_call": config.batch_size,
                **timings,
                "rss_after_model_mb": rss_model,
                "rss_after_real_split_mb": rss_real,
                "peak_rss_mb": peak,
                "arrays_mb": _megabytes(arrays),
                "peak_above_model_mb": round(peak - rss_model, 1),
                "peak_above_model_and_arrays_mb": round(peak - rss_model - _megabytes(arrays), 1),
                "scaling": scaling_runs() if _SCALING_DEVICES.value else [],
                "scaling_clips": _SCALING_CLIPS.value,
                "scaling_width": _SCALING_WIDTH.value,
                "scaling_cores": len(os.sched_getaffinity(0)),
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
