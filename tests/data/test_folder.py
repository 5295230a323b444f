"""The user's own folder: mixed formats, split by path hash (or in time when there are
few videos), bad files skipped."""

import os

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from inbetweening.data import builders, errors, input_pipeline, prepare
from inbetweening.data.builders import folder

import data_fixture_writers


def _prepared_examples(data_dir, user_folder, summary):
    builder = builders.make_builder("folder", data_dir, 64, folder_path=str(user_folder))
    return {
        split: list(tfds.as_numpy(builder.as_dataset(split=split))) for split in summary.split_sizes
    }


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
            video = example["video"]
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
            frames = np.round(example["video"][:, 32, 32, 0].astype(float) - 90).astype(int)
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
    input_pipeline.check_splits(config, ("train",))
    with pytest.raises(errors.DatasetError, match=r"no 'validation' split \(it has train\)"):
        input_pipeline.check_splits(config, ("train", "validation"))
