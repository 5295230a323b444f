"""I3D embedding throughput for FVD: prints one JSON object.

16-frame 64x64 uint8 videos (the paper's BAIR/KTH size), resized to 224x224 inside the jitted
step as in FVD. Random weights: the speed does not depend on their values.
Usage: python benchmarks/fvd.py [--batch_size=16] [--num_batches=3]
"""

import json
import time

import jax
import numpy as np
from absl import app, flags

from inbetweening.eval import fvd, i3d

flags.DEFINE_integer("batch_size", fvd.DEFAULT_BATCH_SIZE, "Videos per I3D call.")
flags.DEFINE_integer("num_batches", 3, "Timed batches, after one warm-up (compiling) batch.")
FLAGS = flags.FLAGS
VIDEO_SHAPE = (16, 64, 64, 3)


def main(argv: list[str]) -> None:
    del argv
    model = i3d.I3D()
    variables = i3d.random_variables(model, (1, 16, 224, 224, 3))
    embed = fvd.i3d_embedding_fn(variables, model, batch_size=FLAGS.batch_size)
    videos = np.random.default_rng(0).integers(
        0, 256, (FLAGS.batch_size * FLAGS.num_batches,) + VIDEO_SHAPE, dtype=np.uint8
    )
    start = time.perf_counter()
    embed(videos[: FLAGS.batch_size])
    compile_and_first_batch_s = time.perf_counter() - start
    start = time.perf_counter()
    embed(videos)  # returns numpy, so the device work is done when it returns
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "benchmark": "i3d_embedding",
                "videos_per_second": len(videos) / elapsed,
                "video_shape": list(VIDEO_SHAPE),
                "batch_size": FLAGS.batch_size,
                "num_videos_timed": len(videos),
                "first_batch_seconds_with_compile": compile_and_first_batch_s,
                "devices": [str(d) for d in jax.devices()],
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
