"""UCF101: testlist01 is test, a fixed 5% of trainlist01 validation, the rest train."""

import numpy as np
import pytest

from inbetweening.data import builders, prepare
from inbetweening.data.builders import common, ucf101


def _paths(builder, split):
    return sorted(example["path"].decode() for example in builder.as_data_source(split))


def test_splits_match_the_recognition_lists(prepared, ucf101_sources):
    _, train_list, test_list = ucf101_sources
    data_dir, summary = prepared("ucf101")
    builder = builders.make_builder("ucf101", data_dir, 64)
    expected_train, expected_validation = ucf101.split_train_list(train_list)
    assert len(expected_validation) == 1 and len(expected_train) == 19
    assert _paths(builder, "test") == sorted(test_list)
    assert _paths(builder, "validation") == sorted(expected_validation)
    assert _paths(builder, "train") == sorted(expected_train)
    assert summary.skipped_files == []


def test_whole_videos_are_stored_square_and_rgb(prepared):
    data_dir, _ = prepared("ucf101")
    builder = builders.make_builder("ucf101", data_dir, 64)
    example = builder.as_data_source("test")[0]
    video = np.asarray(example["video"])
    assert video.shape == (17, 64, 64, 3) and video.dtype == np.uint8
    assert example["label"].decode() == example["path"].decode().split("/")[0]


def test_validation_draw_is_fixed():
    names = [f"C/v_{i}.avi" for i in range(100)]
    assert ucf101.split_train_list(names) == ucf101.split_train_list(names)
    train, validation = ucf101.split_train_list(names)
    assert len(validation) == 5 and sorted(train + validation) == sorted(names)


def test_unextractable_rar_is_reported(tmp_path, ucf101_sources):
    manual_dir, _, _ = ucf101_sources
    lists = "UCF101TrainTestSplits-RecognitionTask.zip"
    (tmp_path / lists).write_bytes((manual_dir / lists).read_bytes())
    (tmp_path / "UCF101.rar").write_bytes(b"not a rar archive")
    with pytest.raises(common.SourceFilesMissingError, match="Cannot extract .*UCF101.rar"):
        prepare.prepare("ucf101", str(tmp_path / "data"), str(tmp_path))
