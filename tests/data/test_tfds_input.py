"""The tf.data pipeline: shapes, determinism, evaluation padding, per-process shards."""

import numpy as np
import pytest

from inbetweening.data import errors, prepare, tfds_input

import data_fixture_writers


def _take(iterator, count):
    return [next(iterator) for _ in range(count)]


def _sequence_numbers(videos):
    """BAIR fixture frames spell their sequence number in red and green."""
    return [int(video[0, 0, 0, 0]) + 256 * int(video[0, 0, 0, 1]) for video in videos]


def test_train_batches_are_random_sub_sequences(prepared, config_for):
    data_dir, _ = prepared("bair")
    config = config_for("bair", data_dir, batch_size=4)
    batches = _take(tfds_input.train_batches(config, 0, 0, 1), 5)
    for batch in batches:
        assert batch.shape == (4, 16, 64, 64, 3) and batch.dtype == np.uint8
        # Blue counts frames (8 per frame on image_aux1): consecutive, starting within 0..14.
        blue = batch[:, :, 0, 0, 2].astype(int) // 8
        assert np.all(np.diff(blue, axis=1) == 1) and np.all(blue[:, 0] <= 14)
        assert set(_sequence_numbers(batch)) <= set(data_fixture_writers.BAIR_SPLITS["train"])
    starts = np.concatenate([batch[:, 0, 0, 0, 2] // 8 for batch in batches])
    assert len(set(starts.tolist())) > 1


def test_train_batches_are_deterministic_for_a_seed(prepared, config_for):
    data_dir, _ = prepared("ucf101")
    config = config_for("ucf101", data_dir, batch_size=4)
    first = _take(tfds_input.train_batches(config, 0, 0, 1), 3)
    second = _take(tfds_input.train_batches(config, 0, 0, 1), 3)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_resumed_train_batches_continue_the_uninterrupted_order(prepared, config_for):
    data_dir, _ = prepared("ucf101")
    config = config_for("ucf101", data_dir, batch_size=4)
    uninterrupted = _take(tfds_input.train_batches(config, 0, 0, 1), 4)
    resumed = _take(tfds_input.train_batches(config, 2, 0, 1), 2)
    for a, b in zip(uninterrupted[2:], resumed):
        np.testing.assert_array_equal(a, b)


def test_camera_is_a_config_value(prepared, config_for):
    data_dir, _ = prepared("bair")
    config = config_for("bair", data_dir, batch_size=4)
    config.data.camera = "image_main"
    videos, _ = next(tfds_input.eval_batches(config, "test", 0, 1))
    # image_main's blue falls by 8 per frame; the centre sub-sequence of 30 starts at 7.
    np.testing.assert_array_equal(videos[0, :, 0, 0, 2], 255 - 8 * np.arange(7, 23))


def test_kth_batches_are_grayscale_stored_clips(prepared, config_for):
    data_dir, _ = prepared("kth")
    config = config_for("kth", data_dir, batch_size=2, channels=1)
    batch = next(tfds_input.train_batches(config, 0, 0, 1))
    assert batch.shape == (2, 16, 64, 64, 1) and batch.dtype == np.uint8


def test_eval_gives_every_example_once_with_a_padding_mask(prepared, config_for):
    data_dir, _ = prepared("bair")
    config = config_for("bair", data_dir, batch_size=3)
    batches = list(tfds_input.eval_batches(config, "test", 0, 1))
    assert [videos.shape for videos, _ in batches] == [(3, 16, 64, 64, 3)] * 2
    masks = np.concatenate([mask for _, mask in batches])
    np.testing.assert_array_equal(masks, [True] * 4 + [False] * 2)
    videos = np.concatenate([videos for videos, _ in batches])
    assert sorted(_sequence_numbers(videos[masks])) == data_fixture_writers.BAIR_SPLITS["test"]
    assert not videos[~masks].any()
    np.testing.assert_array_equal(videos[0, :, 0, 0, 2], 8 * np.arange(7, 23))  # Centre frames.
    again = np.concatenate([videos for videos, _ in tfds_input.eval_batches(config, "test", 0, 1)])
    np.testing.assert_array_equal(videos, again)


@pytest.mark.parametrize("split", ["test", "validation"])
def test_processes_read_disjoint_shards_that_cover_the_split(prepared, config_for, split):
    data_dir, _ = prepared("bair")
    config = config_for("bair", data_dir, batch_size=2)
    seen, batch_counts = [], []
    for process_index in range(2):
        batches = list(tfds_input.eval_batches(config, split, process_index, 2))
        batch_counts.append(len(batches))
        for videos, mask in batches:
            assert videos.shape[0] == 1
            seen.append(_sequence_numbers(videos[mask]))
    assert batch_counts[0] == batch_counts[1]
    per_process = [sum(seen[: batch_counts[0]], []), sum(seen[batch_counts[0] :], [])]
    assert not set(per_process[0]) & set(per_process[1])
    assert sorted(per_process[0] + per_process[1]) == data_fixture_writers.BAIR_SPLITS[split]


def test_training_shards_of_two_processes_are_disjoint(prepared, config_for):
    data_dir, _ = prepared("bair")
    config = config_for("bair", data_dir, batch_size=2)
    shards = [
        set(
            _sequence_numbers(
                np.concatenate(_take(tfds_input.train_batches(config, 0, process_index, 2), 4))
            )
        )
        for process_index in range(2)
    ]
    assert not shards[0] & shards[1]
    assert sorted(shards[0] | shards[1]) == data_fixture_writers.BAIR_SPLITS["train"]


def test_unprepared_dataset_names_the_command_to_run(tmp_path, config_for):
    config = config_for("kth", str(tmp_path), channels=1)
    with pytest.raises(errors.DatasetNotPreparedError) as error:
        tfds_input.train_batches(config, 0, 0, 1)
    assert f"python -m inbetweening.data.prepare --dataset=kth --data_dir={tmp_path}" in str(
        error.value
    )


def test_channel_mismatch_is_reported(prepared, config_for):
    data_dir, _ = prepared("kth")
    with pytest.raises(ValueError, match="image_channels"):
        tfds_input.train_batches(config_for("kth", data_dir, channels=3), 0, 0, 1)


def test_a_split_without_videos_is_reported(prepared, config_for, user_folder):
    data_dir, summary = prepared("folder")
    assert "test" not in summary.split_sizes  # Six fixture videos all hash to train.
    config = config_for("folder", data_dir, folder=str(user_folder))
    with pytest.raises(ValueError, match="no 'test' split"):
        tfds_input.eval_batches(config, "test", 0, 1)


def test_other_image_sizes_are_prepared_and_read_separately(tmp_path, kth_manual_dir, config_for):
    data_dir = str(tmp_path)
    config = config_for("kth", data_dir, channels=1, image_size=32)
    with pytest.raises(errors.DatasetNotPreparedError, match="--image_size=32"):
        tfds_input.train_batches(config, 0, 0, 1)
    prepare.prepare("kth", data_dir, str(kth_manual_dir), image_size=32)
    batch = next(tfds_input.train_batches(config, 0, 0, 1))
    assert batch.shape == (2, 16, 32, 32, 1) and batch.dtype == np.uint8


def test_sub_sequences_longer_than_the_stored_clips_are_refused(prepared, config_for):
    data_dir, _ = prepared("kth")
    config = config_for("kth", data_dir, channels=1)
    config.model.num_frames = 17
    with pytest.raises(ValueError, match="stores 16-frame videos"):
        tfds_input.train_batches(config, 0, 0, 1)
