"""Datasets the benchmarks build for themselves (not a benchmark)."""

import os

import numpy as np
import tensorflow as tf

from inbetweening.data import prepare, tfds_input
from inbetweening.data.builders import bair


def write_bair_fixture(directory: str, num_sequences: int) -> None:
    """Training-split sequences in the softmotion30_44k schema, random 64x64x3 frames
    (random pixels are the costliest to PNG-decode once prepared)."""
    tfds_input.hide_gpus_from_tensorflow()  # before TensorFlow first touches a device
    rng = np.random.default_rng(0)
    first = bair.FIRST_TRAIN_SEQUENCE
    path = os.path.join(
        directory,
        "softmotion30_44k",
        "train",
        f"traj_{first}_to_{first + num_sequences - 1}.tfrecords",
    )
    os.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for _ in range(num_sequences):
            feature = {
                f"{frame}/{camera}/encoded": tf.train.Feature(
                    bytes_list=tf.train.BytesList(
                        value=[rng.integers(0, 256, bair.NATIVE_FRAME_SHAPE, np.uint8).tobytes()]
                    )
                )
                for frame in range(bair.FRAMES_PER_SEQUENCE)
                for camera in bair.CAMERAS
            }
            writer.write(
                tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
            )


def prepared_bair_fixture(directory: str, num_sequences: int) -> str:
    """write_bair_fixture's sequences prepared (data/prepare.py) under `directory`; returns
    the data_dir to read them from."""
    sources, data_dir = os.path.join(directory, "sources"), os.path.join(directory, "data")
    write_bair_fixture(sources, num_sequences)
    prepare.prepare("bair", data_dir, sources)
    return data_dir
