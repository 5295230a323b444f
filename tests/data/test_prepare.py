"""Preparation: atomic writes, the summary, and the CLI's messages for missing sources."""

import itertools
import os
import pathlib
import shutil
import tempfile

import numpy as np
import pytest
from tensorflow_datasets.core import file_adapters

from inbetweening.data import builders, errors, prepare, tfds_input, video_io
from inbetweening.data.builders import common

import data_fixture_writers

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_failure_mid_generation_leaves_nothing_that_loads(
    tmp_path, user_folder, monkeypatch, config_for
):
    data_dir = str(tmp_path / "data")
    decoded = []
    real_read_video = video_io.read_video

    def read_video_then_fail(*args, **kwargs):
        decoded.append(args[0])
        if len(decoded) == 3:
            raise RuntimeError("simulated crash mid-generation")
        return real_read_video(*args, **kwargs)

    monkeypatch.setattr(video_io, "read_video", read_video_then_fail)
    with pytest.raises(RuntimeError, match="simulated crash"):
        prepare.prepare("folder", data_dir, str(user_folder))
    assert not builders.make_builder("folder", data_dir, 64, str(user_folder)).is_prepared()
    with pytest.raises(errors.DatasetNotPreparedError):
        tfds_input.train_batches(config_for("folder", data_dir, folder=str(user_folder)), 0, 0, 1)

    monkeypatch.setattr(video_io, "read_video", real_read_video)
    assert sum(prepare.prepare("folder", data_dir, str(user_folder)).split_sizes.values()) == 6


def test_summary_of_a_prepared_dataset_is_read_back(prepared, kth_manual_dir):
    data_dir, first = prepared("kth")
    again = prepare.prepare("kth", data_dir, str(kth_manual_dir))
    assert again == first
    assert str(again).endswith("skipped files: 2")


def test_missing_archives_are_listed(tmp_path):
    (tmp_path / "walking.zip").write_bytes(b"")
    with pytest.raises(common.SourceFilesMissingError) as error:
        prepare.prepare("kth", str(tmp_path / "data"), str(tmp_path))
    message = str(error.value)
    assert str(tmp_path) in message and "walking.zip" not in message
    for action in ("jogging", "running", "boxing", "handwaving", "handclapping"):
        assert f"https://www.csc.kth.se/cvap/actions/{action}.zip" in message


def test_a_builder_leaves_no_temporary_folder(tmp_path, monkeypatch, user_folder):
    """TFDS looks a dataset it has not prepared up in its bucket of precomputed metadata,
    and its lookup makes a temporary folder that it never removes."""
    temporary = tmp_path / "temporary"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    for dataset in builders.BUILDERS:
        builders.make_builder(dataset, str(tmp_path / "data"), 64, str(user_folder))
    assert list(temporary.iterdir()) == []


def test_cli_wrong_manual_dir_exits_2_without_traceback(tmp_path, prepare_cli):
    """The command line's refusal, once; the other refusals are prepare()'s, in process."""
    nowhere = tmp_path / "nowhere"
    result = prepare_cli("bair", tmp_path / "data", nowhere)
    # The project's lines only: TensorFlow's native INFO lines while it loads are hidden
    # (command_line.import_tensorflow).
    assert result.stderr.startswith(
        f"error: cannot prepare bair: --manual_dir={nowhere} is not a directory"
    ), result.stderr[:500]
    assert "bair_robot_pushing_dataset_v0.tar" in result.stderr
    assert "softmotion30_44k" in result.stderr


def test_a_truncated_archive_is_named_and_no_dataset_written(tmp_path, kth_manual_dir):
    manual_dir = tmp_path / "kth_sources"
    shutil.copytree(kth_manual_dir, manual_dir)
    partial = manual_dir / "boxing.zip"
    partial.write_bytes(partial.read_bytes()[: partial.stat().st_size // 2])
    data_dir = tmp_path / "data"
    with pytest.raises(common.SourceFilesMissingError) as error:
        prepare.prepare("kth", str(data_dir), str(manual_dir))
    assert str(partial) in str(error.value) and "download it again" in str(error.value)
    assert not builders.make_builder("kth", str(data_dir), 64).is_prepared()


def _first(batches, count):
    return list(itertools.islice(batches, count))


def test_a_tfrecord_dataset_is_refused_then_converted_in_place(
    tmp_path, bair_manual_dir, prepared, config_for, monkeypatch
):
    data_dir = str(tmp_path / "data")
    old = data_fixture_writers.prepare_as_before("bair", data_dir, str(bair_manual_dir))
    config = config_for("bair", data_dir, batch_size=3)
    with pytest.raises(errors.DatasetError) as error:
        tfds_input.check_dataset(config, ("train",), 1)
    message = str(error.value)
    assert "\n" not in message and str(old.data_dir) in message
    assert message.endswith(
        f"python -m inbetweening.data.prepare --dataset=bair --data_dir={data_dir}"
    )

    # A conversion that stops half-way leaves the TFRecord dataset as it was.
    real_write = file_adapters.ArrayRecordFileAdapter.write_examples
    calls = []

    def write_then_fail(path, examples):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("simulated crash mid-conversion")
        return real_write(path, examples)

    monkeypatch.setattr(file_adapters.ArrayRecordFileAdapter, "write_examples", write_then_fail)
    with pytest.raises(OSError, match="simulated crash"):
        prepare.prepare("bair", data_dir)
    with pytest.raises(errors.DatasetError, match="prepared by an earlier version"):
        tfds_input.check_dataset(config, ("train",), 1)
    monkeypatch.undo()

    summary = prepare.prepare("bair", data_dir)  # No sources needed: its own files.
    assert summary.notes[0].startswith(f"Converted {old.data_dir} from TFRecord to ArrayRecord")
    assert not list(pathlib.Path(old.data_dir).glob("*.tfrecord-*"))
    fresh = config_for("bair", prepared("bair")[0], batch_size=3)
    for converted, prepared_now in (
        (tfds_input.train_batches(config, 0, 0, 1), tfds_input.train_batches(fresh, 0, 0, 1)),
        (
            tfds_input.eval_batches(config, "test", 0, 1),
            tfds_input.eval_batches(fresh, "test", 0, 1),
        ),
    ):
        for a, b in zip(*(_first(batches, 3) for batches in (converted, prepared_now))):
            np.testing.assert_equal(a, b)


def test_preparing_prints_nothing_on_stdout(tmp_path, bair_manual_dir, capsys):
    """Where the benchmarks print their JSON, TFDS would print "Downloading and preparing
    dataset Unknown size...": the summary is the project's own account."""
    summary = prepare.prepare("bair", str(tmp_path), str(bair_manual_dir))
    assert summary.split_sizes["train"] > 0
    assert capsys.readouterr().out == ""
