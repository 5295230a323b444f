"""A dataset that cannot serve the config is a user error: training stops before compiling
anything, with one line naming the dataset and the config field; the command line exits
with code 2, no traceback, and nothing in the work directory."""

import importlib

import pytest

from configs import kth
from inbetweening.config import fields
from inbetweening.data.errors import DatasetError
from inbetweening.training import train

import data_fixture_writers
from command_lines import run_module


def _train(workdir, config_file, data_dir, *overrides):
    return run_module(
        "inbetweening.main",
        f"--config={config_file}",
        f"--workdir={workdir}",
        f"--config.data.data_dir={data_dir}",
        *overrides,
        timeout=120,
    )


def _too_late(*args):
    raise AssertionError("the models were built before the dataset was refused")


def _assert_refused(result, workdir, *named):
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), result.stderr[-3000:]
    for text in named:
        assert text in errors[0], errors[0]
    assert not workdir.exists() or not any(workdir.iterdir())


@pytest.mark.parametrize(
    "config_file, dataset, overrides, named",
    [
        (
            "configs/bair.py",
            "kth",
            ["--config.data.name=kth"],
            ["dataset 'kth' has 1-channel frames", "config.model.image_channels=3"],
        ),
        (
            "configs/bair.py",
            "bair",
            ["--config.data.camera=image_side"],
            ["dataset 'bair'", "config.data.camera='image_side'", "image_aux1, image_main"],
        ),
        (
            "configs/kth.py",
            "kth",
            ["--config.model.num_frames=20"],
            ["dataset 'kth' stores 16-frame videos", "config.model.num_frames=20"],
        ),
        (
            "configs/ucf101.py",
            "ucf101",
            ["--config.model.num_frames=20"],
            ["dataset 'ucf101'", "config.model.num_frames=20", "the longest has 17"],
        ),
        (
            "configs/base.py",
            "kth",
            ["--config.data.name=kinetics"],
            ["config.data.name='kinetics'", "synthetic, bair, kth, ucf101, folder"],
        ),
    ],
    ids=["channels", "camera", "stored_length", "varying_length", "unknown_name"],
)
def test_a_mismatched_dataset_stops_training_before_it_starts(
    prepared, tmp_path, monkeypatch, config_file, dataset, overrides, named
):
    """In this process (each command line costs ~4 s of CPU here, TensorFlow's import
    included); the command line's refusal of one of them below. Building the models means
    the check came too late (and would go on to train the paper's model here)."""
    monkeypatch.setattr(train, "create_models", _too_late)
    data_dir, _ = prepared(dataset)
    config = importlib.import_module(config_file[: -len(".py")].replace("/", ".")).get_config()
    config.data.data_dir = data_dir
    for override in overrides:
        field, value = override[len("--config.") :].split("=")
        fields.set_field(config, field, type(fields.get_field(config, field))(value))
    workdir = tmp_path / "workdir"
    with pytest.raises(DatasetError) as error:
        train.train_and_evaluate(config, str(workdir))
    message = str(error.value)
    assert "\n" not in message
    for text in named:
        assert text in message, message
    assert not workdir.exists() or not any(workdir.iterdir())


def test_the_command_line_refuses_a_mismatched_dataset_in_one_line(prepared, tmp_path):
    data_dir, _ = prepared("kth")
    workdir = tmp_path / "workdir"
    result = _train(workdir, "configs/bair.py", data_dir, "--config.data.name=kth")
    _assert_refused(result, workdir, "dataset 'kth' has 1-channel frames")


def test_a_dataset_prepared_in_tfrecord_files_stops_training_with_the_command(
    tmp_path, kth_manual_dir, monkeypatch
):
    """In this process too: the command line's refusal of a dataset error is the test
    above."""
    monkeypatch.setattr(train, "create_models", _too_late)
    data_dir = str(tmp_path / "data")
    old = data_fixture_writers.prepare_as_before("kth", data_dir, str(kth_manual_dir))
    config = kth.get_config()
    config.data.data_dir = data_dir
    workdir = tmp_path / "workdir"
    with pytest.raises(DatasetError) as error:
        train.train_and_evaluate(config, str(workdir))
    message = str(error.value)
    assert f"dataset 'kth' in {old.data_dir} was prepared by an earlier version" in message
    assert f"python -m inbetweening.data.prepare --dataset=kth --data_dir={data_dir}" in message
    assert not workdir.exists() or not any(workdir.iterdir())
