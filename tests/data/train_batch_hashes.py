"""Writes `step sha256` of each training batch to a file, a line per step, flushed at once
(a helper the kill-and-resume test runs as a process of its own, not a test).

    python tests/data/train_batch_hashes.py CONFIG_JSON START_STEP STOP_STEP OUT

Steps START_STEP .. STOP_STEP - 1 (STOP_STEP -1: until killed) of process 0 of 1.
"""

import hashlib
import itertools
import json
import sys

import ml_collections

from inbetweening.data import input_pipeline


def batch_hash(batch) -> str:
    return hashlib.sha256(repr(batch.shape).encode() + batch.tobytes()).hexdigest()


def main(config_json: str, start_step: str, stop_step: str, out: str) -> None:
    config = ml_collections.ConfigDict(json.loads(config_json))
    batches = input_pipeline.train_batches(config, int(start_step), 0, 1)
    steps = (
        itertools.count(int(start_step))
        if int(stop_step) < 0
        else range(int(start_step), int(stop_step))
    )
    with open(out, "a") as lines:
        for step in steps:
            lines.write(f"{step} {batch_hash(next(batches))}\n")
            lines.flush()


if __name__ == "__main__":
    main(*sys.argv[1:])
