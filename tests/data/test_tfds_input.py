"""The prepared datasets' pipeline: shapes, determinism, resuming, processes, evaluation
padding, and the config checks."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from inbetweening.data import errors, prepare, tfds_input

import command_lines
import data_fixture_writers
import train_batch_hashes

HASHES_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train_batch_hashes.py")


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
    data_dir, _ = prepared("bair")
    config = config_for("bair", data_dir, batch_size=4)
    first = _take(tfds_input.train_batches(config, 0, 0, 1), 3)
    second = _take(tfds_input.train_batches(config, 0, 0, 1), 3)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_resumed_train_batches_continue_the_uninterrupted_order(prepared, config_for):
    data_dir, _ = prepared("bair")
    config = config_for("bair", data_dir, batch_size=3)
    # Two training sequences: the steps cross epochs mid-batch.
    uninterrupted = _take(tfds_input.train_batches(config, 0, 0, 1), 8)
    resumed = _take(tfds_input.train_batches(config, 5, 0, 1), 3)
    for a, b in zip(uninterrupted[5:], resumed):
        np.testing.assert_array_equal(a, b)


def test_each_epoch_is_a_permutation_of_its_own(prepared, config_for):
    data_dir, _ = prepared("bair")
    config = config_for("bair", data_dir, batch_size=2)
    # Two training sequences: each batch is one epoch, so holds both, in its epoch's order.
    orders = [
        _sequence_numbers(batch) for batch in _take(tfds_input.train_batches(config, 0, 0, 1), 8)
    ]
    assert all(sorted(order) == data_fixture_writers.BAIR_SPLITS["train"] for order in orders)
    assert len(set(map(tuple, orders))) == 2


def test_different_seeds_give_different_batches(prepared, config_for):
    data_dir, _ = prepared("bair")
    config = config_for("bair", data_dir, batch_size=4)
    other = config_for("bair", data_dir, batch_size=4)
    other.data.seed = config.data.seed + 1
    a = np.concatenate(_take(tfds_input.train_batches(config, 0, 0, 1), 3))
    b = np.concatenate(_take(tfds_input.train_batches(other, 0, 0, 1), 3))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("step", [0, 7])
def test_two_processes_share_the_global_batch_of_one(prepared, config_for, step):
    data_dir, _ = prepared("bair")
    config = config_for("bair", data_dir, batch_size=4)
    whole = next(tfds_input.train_batches(config, step, 0, 1))
    halves = [next(tfds_input.train_batches(config, step, index, 2)) for index in range(2)]
    assert halves[0].shape == (2, 16, 64, 64, 3)
    np.testing.assert_array_equal(np.concatenate(halves), whole)


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


def test_unprepared_dataset_names_the_command_to_run(tmp_path, config_for):
    config = config_for("kth", str(tmp_path), channels=1)
    with pytest.raises(errors.DatasetNotPreparedError) as error:
        tfds_input.train_batches(config, 0, 0, 1)
    assert f"python -m inbetweening.data.prepare --dataset=kth --data_dir={tmp_path}" in str(
        error.value
    )


def test_channel_mismatch_is_reported(prepared, config_for):
    data_dir, _ = prepared("kth")
    with pytest.raises(errors.DatasetError, match="config.model.image_channels=3"):
        tfds_input.train_batches(config_for("kth", data_dir, channels=3), 0, 0, 1)


def test_a_split_without_videos_is_reported(prepared, config_for, user_folder):
    data_dir, summary = prepared("folder")
    assert "test" not in summary.split_sizes  # Six fixture videos all hash to train.
    config = config_for("folder", data_dir, folder=str(user_folder))
    with pytest.raises(errors.DatasetError, match="no 'test' split"):
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
    with pytest.raises(errors.DatasetError, match="stores 16-frame videos"):
        tfds_input.train_batches(config, 0, 0, 1)


def test_videos_shorter_than_the_sub_sequence_are_left_out(prepared, config_for, user_folder):
    data_dir, _ = prepared("folder")
    config = config_for("folder", data_dir, folder=str(user_folder))
    config.model.num_frames = 20
    # Of the fixture's six training videos only clips/a.mp4 has 20 frames.
    (usable,) = tfds_input.check_dataset(config, ("train",), 1).usable.values()
    assert len(usable) == 1
    batch = next(tfds_input.train_batches(config, 0, 0, 1))
    assert batch.shape == (2, 20, 64, 64, 3)
    np.testing.assert_array_equal(batch[0], batch[1])  # One video of 20 frames: one clip.
    config.model.num_frames = 24
    with pytest.raises(errors.DatasetError, match="no train video has config.model.num_frames=24"):
        tfds_input.check_dataset(config, ("train",), 1)


def test_a_batch_the_processes_cannot_share_is_refused(prepared, config_for):
    data_dir, _ = prepared("ucf101")
    config = config_for("ucf101", data_dir, batch_size=3)
    with pytest.raises(errors.DatasetError, match="config.batch_size=3 is not divisible by the 2"):
        tfds_input.train_batches(config, 0, 0, 2)


def _recorded_hashes(path) -> list[tuple[int, str]]:
    """(step, hash) of each whole line: a process killed mid-write leaves a partial one."""
    text = path.read_text() if path.exists() else ""
    return [tuple(line.split()) for line in text.splitlines(keepends=True) if line.endswith("\n")]


def _start_hashing(config, start_step, stop_step, out):
    return subprocess.Popen(
        [sys.executable, HASHES_SCRIPT, config.to_json(), str(start_step), str(stop_step), out],
        cwd=command_lines.REPO,
        env={**os.environ, "PYTHONPATH": command_lines.REPO},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_a_process_killed_and_resumed_reads_the_uninterrupted_sequence(
    prepared, config_for, tmp_path
):
    data_dir, _ = prepared("bair")
    config = config_for("bair", data_dir, batch_size=3)
    expected = [
        train_batch_hashes.batch_hash(batch)
        for batch in _take(tfds_input.train_batches(config, 0, 0, 1), 12)
    ]
    killed_log = tmp_path / "killed.txt"
    killed = _start_hashing(config, 0, -1, str(killed_log))
    deadline = time.monotonic() + 120
    while len(_recorded_hashes(killed_log)) < 3 and killed.poll() is None:
        assert time.monotonic() < deadline, "no batches from the first process"
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL, killed.stderr.read().decode()[-2000:]
    before = _recorded_hashes(killed_log)
    last_step = int(before[-1][0])
    assert last_step < len(expected) - 1

    resumed_log = tmp_path / "resumed.txt"
    resumed = _start_hashing(config, last_step + 1, len(expected), str(resumed_log))
    assert resumed.wait(timeout=120) == 0, resumed.stderr.read().decode()[-2000:]
    steps_and_hashes = before + _recorded_hashes(resumed_log)
    assert [int(step) for step, _ in steps_and_hashes] == list(range(len(expected)))
    assert [hash_ for _, hash_ in steps_and_hashes] == expected
