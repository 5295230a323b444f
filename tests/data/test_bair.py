"""BAIR: the paper's splits by sequence number, both cameras stored."""

import numpy as np

from inbetweening.data import builders, prepare
from inbetweening.runtime import command_line

import data_fixture_writers

tf = command_line.import_tensorflow()


def test_splits_follow_sequence_numbers_across_boundaries(prepared):
    data_dir, summary = prepared("bair")
    expected = data_fixture_writers.BAIR_SPLITS
    assert summary.split_sizes == {split: len(numbers) for split, numbers in expected.items()}
    assert summary.skipped_files == []
    builder = builders.make_builder("bair", data_dir, 64)
    for split, numbers in expected.items():
        examples = list(builder.as_data_source(split))
        assert sorted(int(example["sequence_number"]) for example in examples) == numbers


def test_both_cameras_are_stored_whole(prepared):
    data_dir, _ = prepared("bair")
    builder = builders.make_builder("bair", data_dir, 64)
    example = builder.as_data_source("test")[0]
    number = int(example["sequence_number"])
    for camera in ("image_aux1", "image_main"):
        video = np.asarray(example[camera])
        assert video.shape == (30, 64, 64, 3) and video.dtype == np.uint8
        expected = np.stack(
            [data_fixture_writers.bair_frame(number, frame, camera) for frame in range(30)]
        )
        np.testing.assert_array_equal(video, expected)


def test_malformed_records_truncated_and_misnamed_files_are_skipped(tmp_path):
    train_dir = tmp_path / "softmotion30_44k" / "train"
    train_dir.mkdir(parents=True)
    bad_record = tf.train.Example().SerializeToString()  # No image features at all.
    with tf.io.TFRecordWriter(str(train_dir / "traj_2560_to_2815.tfrecords")) as writer:
        writer.write(data_fixture_writers.bair_record(2560))
        writer.write(bad_record)
    truncated = train_dir / "traj_3000_to_3255.tfrecords"
    with tf.io.TFRecordWriter(str(truncated)) as writer:
        writer.write(data_fixture_writers.bair_record(3000))
        writer.write(data_fixture_writers.bair_record(3001))
    truncated.write_bytes(truncated.read_bytes()[:-100])
    (train_dir / "trajectories.tfrecords").write_bytes(b"")

    summary = prepare.prepare("bair", str(tmp_path / "data"), str(tmp_path))
    assert summary.split_sizes == {"train": 2}
    assert sorted(name.rsplit("/", 1)[-1] for name in summary.skipped_files) == [
        "traj_2560_to_2815.tfrecords record 1",
        "traj_3000_to_3255.tfrecords",
        "trajectories.tfrecords",
    ]
