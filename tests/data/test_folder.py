"""The user's own folder: mixed formats, split by path hash (or in time when there are
few videos), bad files skipped."""

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from inbetweening.data import builders, errors, input_pipeline, prepare
from inbetweening.data.builders import folder

import data_fixture_writers

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _prepared_examples(data_dir, user_folder, summary):
    builder = builders.make_builder("folder", data_dir, 64, folder_path=str(user_folder))
    return {split: list(builder.as_data_source(split)) for split in summary.split_sizes}


def test_every_readable_video_lands_in_its_hashed_split(prepared, user_folder):
    data_dir, summary = prepared("folder")
    examples = _prepared_examples(data_dir, user_folder, summary)
    found = {
        example["path"].decode(): split
        for split, split_examples in examples.items()
        for example in split_examples
    }
    assert found == {path: folder.split_of(path) for path in data_fixture_writers.USER_VIDEOS}
    assert sorted(path.rsplit("/", 1)[-1] for path in summary.skipped_files) == sorted(
        data_fixture_writers.USER_BAD_FILES
    )


def test_videos_are_centre_cropped_whole_and_resized(prepared, user_folder):
    data_dir, summary = prepared("folder")
    for split_examples in _prepared_examples(data_dir, user_folder, summary).values():
        for example in split_examples:
            video = np.asarray(example["video"])
            assert video.shape == (
                data_fixture_writers.USER_VIDEOS[example["path"].decode()],
                64,
                64,
                3,
            )
            # The 255 side bands are cropped away; only codec ringing may remain at the edges.
            assert video[:, :, 4:-4].max() < 140, example["path"]
            assert np.all(
                np.abs(video[:, 8:-8, 8:-8].mean(axis=(1, 2, 3)) - (90 + np.arange(len(video)))) < 8
            ), example["path"]


def test_split_is_a_pure_function_of_the_path():
    assert folder.split_of("a/b.mp4") == folder.split_of("a/b.mp4")
    shares = [folder.split_of(f"video_{i}.mp4") for i in range(2000)]
    assert abs(shares.count("train") / 2000 - folder.TRAIN_PERCENT / 100) < 0.03


# A handful of long videos: frame folders (lossless, so frame t reads back as 90 + t).
LONG_VIDEOS = {"long_a": 100, "long_b": 60, "short": 30}


@pytest.fixture(scope="module")
def few_long_videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("few_long_videos")
    for name, length in LONG_VIDEOS.items():
        os.makedirs(root / name)
        for index, frame in enumerate(data_fixture_writers.striped_video(length, 32, 48)):
            Image.fromarray(frame).save(root / name / f"{index:04d}.png")
    data_dir = tmp_path_factory.mktemp("few_long_videos_data")
    return data_dir, root, prepare.prepare("folder", str(data_dir), str(root))


def test_a_few_videos_are_cut_in_time_into_every_split(few_long_videos):
    data_dir, root, summary = few_long_videos
    examples = _prepared_examples(data_dir, root, summary)
    first_frames = {split: {} for split in examples}
    for split, split_examples in examples.items():
        for example in split_examples:
            # Frame values 90 + t say which frames of the source video each example holds.
            centres = np.asarray(example["video"])[:, 32, 32, 0].astype(float)
            frames = np.round(centres - 90).astype(int)
            np.testing.assert_array_equal(frames, np.arange(frames[0], frames[0] + len(frames)))
            first_frames[split][example["path"].decode()] = (frames[0], frames[-1] + 1)
    # 100 frames: validation and test 16 each (5% is fewer), train the first 68.
    assert first_frames["train"] == {"long_a": (0, 68), "long_b": (0, 28), "short": (0, 30)}
    assert first_frames["validation"] == {"long_a": (68, 84), "long_b": (28, 44)}
    assert first_frames["test"] == {"long_a": (84, 100), "long_b": (44, 60)}
    assert summary.split_sizes == {"train": 3, "validation": 2, "test": 2}
    assert "validation: 2 examples" in str(summary)


def test_time_segments_keep_every_clip_inside_one_split():
    for length in range(folder.common.MIN_FRAMES, 2000, 7):
        segments = folder.time_segments(length)
        if length < 3 * folder.common.MIN_FRAMES:
            assert segments is None
            continue
        (train, validation, test) = (segments[s] for s in ("train", "validation", "test"))
        assert train[0] == 0 and train[1] == validation[0] and validation[1] == test[0]
        assert test[1] == length
        assert min(b - a for a, b in segments.values()) >= folder.common.MIN_FRAMES
        assert validation[1] - validation[0] >= length * folder.VALIDATION_PERCENT // 100


def test_training_names_a_missing_validation_split(tmp_path, config_for):
    root = tmp_path / "one_short_video"
    os.makedirs(root / "clip")
    for index, frame in enumerate(data_fixture_writers.striped_video(20, 32, 48)):
        Image.fromarray(frame).save(root / "clip" / f"{index:04d}.png")
    data_dir = tmp_path / "data"
    assert prepare.prepare("folder", str(data_dir), str(root)).split_sizes == {"train": 1}
    config = config_for("folder", str(data_dir), folder=str(root))
    input_pipeline.check_dataset(config, ("train",), 1)
    with pytest.raises(errors.DatasetError, match=r"no 'validation' split \(it has train\)"):
        input_pipeline.check_dataset(config, ("train", "validation"), 1)


def _write_frame_folder(root, name, length, offset=0):
    """A video of `length` frames as a folder of PNGs (frame t reads back as 90 + t + offset)."""
    shutil.rmtree(root / name, ignore_errors=True)
    os.makedirs(root / name)
    for index, frame in enumerate(data_fixture_writers.striped_video(length, 32, 48)):
        Image.fromarray(np.clip(frame.astype(int) + offset, 0, 255).astype(np.uint8)).save(
            root / name / f"{index:04d}.png"
        )


def test_a_prepared_folder_follows_added_replaced_and_removed_videos(tmp_path, config_for):
    root, data_dir = tmp_path / "videos", str(tmp_path / "data")
    for name in ("a", "b"):
        _write_frame_folder(root, name, 60)
    config = config_for("folder", data_dir, folder=str(root))
    first = prepare.prepare("folder", data_dir, str(root))
    assert first.split_sizes == {"train": 2, "validation": 2, "test": 2} and not first.notes
    input_pipeline.check_dataset(config, ("train", "validation"), 1)

    _write_frame_folder(root, "c", 60)
    # Training looks for the version that matches the folder now, which is not prepared.
    with pytest.raises(errors.DatasetNotPreparedError, match=f"--manual_dir={root}"):
        input_pipeline.check_dataset(config, ("train", "validation"), 1)
    added = prepare.prepare("folder", data_dir, str(root))
    assert added.split_sizes == {"train": 3, "validation": 3, "test": 3}
    assert "videos: 1 added, 0 removed, 0 changed" in added.notes[0]
    assert os.path.isdir(first.dataset_dir), "the old version stays"
    assert first.dataset_dir in added.notes[0] and "rm -r" in added.notes[1]
    input_pipeline.check_dataset(config, ("train", "validation"), 1)

    _write_frame_folder(root, "c", 20, offset=1)  # too short to cut: train only
    replaced = prepare.prepare("folder", data_dir, str(root))
    assert replaced.split_sizes == {"train": 3, "validation": 2, "test": 2}
    assert "videos: 0 added, 0 removed, 1 changed" in replaced.notes[0]

    shutil.rmtree(root / "a")
    removed = prepare.prepare("folder", data_dir, str(root))
    assert removed.split_sizes == {"train": 2, "validation": 1, "test": 1}
    assert "videos: 0 added, 1 removed, 0 changed" in removed.notes[0]
    again = prepare.prepare("folder", data_dir, str(root))  # unchanged: reused, no note
    assert (again.dataset_dir, again.split_sizes, again.notes) == (
        removed.dataset_dir,
        removed.split_sizes,
        (),
    )


def test_a_folder_without_a_usable_video_is_refused_and_nothing_is_written(tmp_path):
    """prepare()'s refusal (a SourceFilesMissingError), which the command line prints as
    its one error line with exit code 2 (tests/data/test_prepare.py runs one through it)."""
    root, data_dir = tmp_path / "videos", tmp_path / "data"
    os.makedirs(root)
    (root / "a.mp4").write_bytes(b"not a video")
    (root / "b.avi").write_bytes(b"\x00" * 100)
    (root / "notes.txt").write_text("ignored: not a video extension")
    with pytest.raises(folder.NoReadableVideoError) as error:
        prepare.prepare("folder", str(data_dir), str(root))
    message = str(error.value)
    assert message.startswith(f"{root} holds no usable video") and "\n" not in message, message
    assert ".mp4, .avi" in message and "2 could not be decoded (a.mp4, b.avi)" in message
    assert not data_dir.exists() or not any(data_dir.rglob("*"))


def test_only_the_first_five_bad_files_are_named(tmp_path):
    for index in range(7):
        (tmp_path / f"bad_{index}.mp4").write_bytes(b"junk")
    with pytest.raises(folder.NoReadableVideoError) as error:
        folder.require_a_usable_video(str(tmp_path))
    assert (
        "7 could not be decoded (bad_0.mp4, bad_1.mp4, bad_2.mp4, bad_3.mp4, bad_4.mp4, ...)"
        in str(error.value)
    )
