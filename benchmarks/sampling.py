"""Sampling latency and throughput of the generator (inference mode): prints one JSON object.

    python benchmarks/sampling.py --config=configs/bair.py [--batch_size=16]

Freshly initialised weights: the speed does not depend on their values.
`latency_seconds_one_video` times a call making one video (one pair of key frames, one
sample); the `..._batched` figures, calls making `batch_size` in-betweens of one pair, as
the evaluation protocol and the sample CLI do.
"""

import json
import time

import jax
import numpy as np
from absl import app, flags
from ml_collections import config_flags

from inbetweening.config.validation import validate
from inbetweening.models import create_models
from inbetweening.models.sampling import sample_inbetweens
from inbetweening.runtime import sharding
from inbetweening.training import train

config_flags.DEFINE_config_file("config", None, "Config file.", lock_config=True)
flags.DEFINE_integer("batch_size", 16, "In-betweens per call in the throughput run.")
flags.DEFINE_integer("repeats", 5, "Timed calls after the compiling one.")
FLAGS = flags.FLAGS


def seconds_per_call(generator, variables, frames: np.ndarray, num_samples: int) -> float:
    sample = lambda seed: sample_inbetweens(
        generator, variables, frames, frames, num_samples, jax.random.PRNGKey(seed)
    )
    sample(0)  # compiles; returns numpy, so the work is done when it returns
    start = time.perf_counter()
    for seed in range(FLAGS.repeats):
        sample(seed)
    return (time.perf_counter() - start) / FLAGS.repeats


def main(_):
    config = FLAGS.config
    validate(config, jax.device_count())
    models = create_models(config.model)
    mesh = sharding.make_mesh(jax.devices()[:1])
    state = train.init_sharded_state(config, models, mesh, jax.random.PRNGKey(0))
    variables = {"params": state.g_params, "batch_stats": state.g_batch_stats}
    m = config.model
    frames = np.random.default_rng(0).integers(
        0, 256, (1, m.image_size, m.image_size, m.image_channels), dtype=np.uint8
    )
    latency = seconds_per_call(models.generator, variables, frames, 1)
    batched = seconds_per_call(models.generator, variables, frames, FLAGS.batch_size)
    print(
        json.dumps(
            {
                "benchmark": "sampling",
                "device": jax.devices()[0].device_kind,
                "video_shape": [m.num_frames, m.image_size, m.image_size, m.image_channels],
                "compute_dtype": m.compute_dtype,
                "latency_seconds_one_video": round(latency, 4),
                "batch_size": FLAGS.batch_size,
                "seconds_per_video_batched": round(batched / FLAGS.batch_size, 4),
                "videos_per_second_batched": round(FLAGS.batch_size / batched, 2),
            }
        )
    )


if __name__ == "__main__":
    flags.mark_flags_as_required(["config"])
    app.run(main)
