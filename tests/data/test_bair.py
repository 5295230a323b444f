"""BAIR: the paper's splits by sequence number, both cameras stored."""
import numpy as np
import tensorflow_datasets as tfds

import data_fixture_writers
from inbetweening.data import builders


def test_splits_follow_sequence_numbers_across_boundaries(prepared):
  data_dir, summary = prepared("bair")
  expected = data_fixture_writers.BAIR_SPLITS
  assert summary.split_sizes == {split: len(numbers) for split, numbers in expected.items()}
  assert summary.skipped_files == []
  builder = builders.make_builder("bair", data_dir, 64)
  for split, numbers in expected.items():
    examples = list(tfds.as_numpy(builder.as_dataset(split=split)))
    assert sorted(int(example["sequence_number"]) for example in examples) == numbers


def test_both_cameras_are_stored_whole(prepared):
  data_dir, _ = prepared("bair")
  builder = builders.make_builder("bair", data_dir, 64)
  example = next(iter(tfds.as_numpy(builder.as_dataset(split="test"))))
  number = int(example["sequence_number"])
  for camera in ("image_aux1", "image_main"):
    video = example[camera]
    assert video.shape == (30, 64, 64, 3) and video.dtype == np.uint8
    expected = np.stack([data_fixture_writers.bair_frame(number, frame, camera)
                         for frame in range(30)])
    np.testing.assert_array_equal(video, expected)
