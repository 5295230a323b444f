"""The user's own folder: mixed formats, split by path hash, bad files skipped."""
import numpy as np
import tensorflow_datasets as tfds

import data_fixture_writers
from inbetweening.data import builders
from inbetweening.data.builders import folder


def _prepared_examples(data_dir, user_folder, summary):
    builder = builders.make_builder("folder", data_dir, 64, folder_path=str(user_folder))
    return {
        split: list(tfds.as_numpy(builder.as_dataset(split=split))) for split in summary.split_sizes
    }


def test_every_readable_video_lands_in_its_hashed_split(prepared, user_folder):
    data_dir, summary = prepared("folder")
    examples = _prepared_examples(data_dir, user_folder, summary)
    found = {
        example["path"].decode(): split for split, split_examples in examples.items()
        for example in split_examples
    }
    assert found == {path: folder.split_of(path) for path in data_fixture_writers.USER_VIDEOS}
    assert sorted(path.rsplit("/", 1)[-1] for path in summary.skipped_files) == sorted(
        data_fixture_writers.USER_BAD_FILES)


def test_videos_are_centre_cropped_whole_and_resized(prepared, user_folder):
    data_dir, summary = prepared("folder")
    for split_examples in _prepared_examples(data_dir, user_folder, summary).values():
        for example in split_examples:
            video = example["video"]
            assert video.shape == (data_fixture_writers.USER_VIDEOS[example["path"].decode()], 64,
                                   64, 3)
            # The 255 side bands are cropped away; only codec ringing may remain at the edges.
            assert video[:, :, 4:-4].max() < 140, example["path"]
            assert np.all(
                np.abs(video[:, 8:-8, 8:-8].mean(axis=(1, 2, 3)) -
                       (90 + np.arange(len(video)))) < 8), example["path"]


def test_split_is_a_pure_function_of_the_path():
    assert folder.split_of("a/b.mp4") == folder.split_of("a/b.mp4")
    shares = [folder.split_of(f"video_{i}.mp4") for i in range(2000)]
    assert abs(shares.count("train") / 2000 - folder.TRAIN_PERCENT / 100) < 0.03
