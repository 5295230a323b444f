"""The training input pipeline: seconds to the first batch at two resume steps, and clips
per second; printed as one JSON line.

    python benchmarks/input_pipeline.py                      # a generated BAIR-format fixture
    python benchmarks/input_pipeline.py --cores=1            # clips/s of one core
    python benchmarks/input_pipeline.py --dataset=kth --data_dir=~/tensorflow_datasets
    python benchmarks/input_pipeline.py --dataset=synthetic --image_size=32   # the demo's data

Without --data_dir, writes softmotion30_44k-format TFRecords of random frames (random
pixels are the costliest to PNG-decode) to a temporary folder and prepares them. Resuming
reads no earlier step's data, so the first batch at --resume_step comes as fast as at
step 0 (`resume_ratio`, at most 1.5). The target of a 16-core host feeding one step of 32
clips of 16x64x64x3 every 20 ms is 100 clips/s per core.
"""

import json
import os
import tempfile
import time

import ml_collections
from absl import app, flags

from benchmarks import fixtures
from inbetweening.data import input_pipeline

_DATASET = flags.DEFINE_string("dataset", "bair", "Prepared dataset to read.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Where it is prepared; default: a fixture.")
_CHANNELS = flags.DEFINE_integer("image_channels", 3, "1 for KTH.")
_IMAGE_SIZE = flags.DEFINE_integer("image_size", 64, "Frame side.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 32, "Global batch size.")
_FIXTURE_SEQUENCES = flags.DEFINE_integer("fixture_sequences", 256, "Sequences in the fixture.")
_CORES = flags.DEFINE_integer("cores", None, "Cores to read with (CPU affinity); default: all.")
_RESUME_STEP = flags.DEFINE_integer("resume_step", 100_000, "The resume step timed beside 0.")
_WARMUP_BATCHES = flags.DEFINE_integer("warmup_batches", 5, "Batches read before timing.")
_TIMED_BATCHES = flags.DEFINE_integer("timed_batches", 50, "Batches timed.")

TARGET_CLIPS_PER_SECOND_PER_CORE = 32 / 0.020 / 16


def _config(data_dir: str | None) -> ml_collections.ConfigDict:
    return ml_collections.ConfigDict(
        {
            "batch_size": _BATCH_SIZE.value,
            "data": {
                "name": _DATASET.value,
                "data_dir": data_dir,
                "seed": 0,
                "camera": "image_aux1",
            },
            "model": {
                "num_frames": 16,
                "image_size": _IMAGE_SIZE.value,
                "image_channels": _CHANNELS.value,
            },
        }
    )


def _seconds_to_first_batch(config, start_step: int) -> float:
    start = time.perf_counter()
    next(input_pipeline.train_batches(config, start_step, process_index=0, process_count=1))
    return time.perf_counter() - start


def _measure(data_dir: str | None) -> dict:
    config = _config(data_dir)
    _seconds_to_first_batch(config, 0)  # Opens the files once, so both steps find them warm.
    first_batch = {step: _seconds_to_first_batch(config, step) for step in (0, _RESUME_STEP.value)}
    batches = input_pipeline.train_batches(config, 0, process_index=0, process_count=1)
    for _ in range(_WARMUP_BATCHES.value):
        next(batches)
    start = time.perf_counter()
    for _ in range(_TIMED_BATCHES.value):
        next(batches)
    clips_per_second = _TIMED_BATCHES.value * _BATCH_SIZE.value / (time.perf_counter() - start)
    cores = len(os.sched_getaffinity(0))
    return {
        "seconds_to_first_batch": {str(step): round(s, 3) for step, s in first_batch.items()},
        "resume_ratio": round(first_batch[_RESUME_STEP.value] / first_batch[0], 2),
        "cores": cores,
        "clips_per_second": round(clips_per_second, 1),
        "clips_per_second_per_core": round(clips_per_second / cores, 1),
        "target_clips_per_second_per_core": TARGET_CLIPS_PER_SECOND_PER_CORE,
    }


def main(argv):
    del argv  # Everything comes in through flags.
    if _CORES.value is not None:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: _CORES.value])
    if _DATA_DIR.value is not None or _DATASET.value == "synthetic":
        results = _measure(_DATA_DIR.value)
    else:
        with tempfile.TemporaryDirectory(prefix="input_pipeline_benchmark_") as fixture_dir:
            results = _measure(
                fixtures.prepared_bair_fixture(fixture_dir, _FIXTURE_SEQUENCES.value)
            )
    print(
        json.dumps(
            {
                "dataset": _DATASET.value,
                "fixture": _DATA_DIR.value is None and _DATASET.value != "synthetic",
                "batch_size": _BATCH_SIZE.value,
                "num_frames": 16,
                "image_size": _IMAGE_SIZE.value,
                "resume_step": _RESUME_STEP.value,
                **results,
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
