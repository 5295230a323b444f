"""Source fixtures, written once per session, and the datasets prepared from them."""

from unittest import mock

import ml_collections
import pytest

from inbetweening.data import prepare
from inbetweening.data.builders import folder

import data_fixture_writers
from command_lines import run_module


@pytest.fixture(scope="session")
def bair_manual_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bair_sources")
    data_fixture_writers.write_bair_archive(str(directory))
    return directory


@pytest.fixture(scope="session")
def kth_manual_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("kth_sources")
    data_fixture_writers.write_kth_zips(str(directory))
    return directory


@pytest.fixture(scope="session")
def ucf101_sources(tmp_path_factory):
    """(manual dir, trainlist01 entries, testlist01 entries)."""
    directory = tmp_path_factory.mktemp("ucf101_sources")
    train_list, test_list = data_fixture_writers.write_ucf101(str(directory))
    return directory, train_list, test_list


@pytest.fixture(scope="session")
def user_folder(tmp_path_factory):
    directory = tmp_path_factory.mktemp("user_videos")
    data_fixture_writers.write_user_folder(str(directory))
    return directory


@pytest.fixture(scope="session")
def prepared(tmp_path_factory, bair_manual_dir, kth_manual_dir, ucf101_sources, user_folder):
    """prepare(name) -> (data_dir, PreparationSummary), each dataset prepared once."""
    sources = {
        "bair": bair_manual_dir,
        "kth": kth_manual_dir,
        "ucf101": ucf101_sources[0],
        "folder": user_folder,
    }
    summaries = {}

    def prepare_once(name):
        if name not in summaries:
            data_dir = str(tmp_path_factory.mktemp(f"{name}_data"))
            # The fixture folder is small; its test is of the split by path hash.
            with mock.patch.object(folder, "HASH_SPLIT_MIN_VIDEOS", 1):
                summaries[name] = data_dir, prepare.prepare(name, data_dir, str(sources[name]))
        return summaries[name]

    return prepare_once


def make_config(
    name: str,
    data_dir: str,
    *,
    batch_size: int = 2,
    channels: int = 3,
    folder: str | None = None,
    image_size: int = 64,
) -> ml_collections.ConfigDict:
    """The part of the training config the input pipeline reads."""
    return ml_collections.ConfigDict(
        {
            "batch_size": batch_size,
            "data": {
                "name": name,
                "data_dir": data_dir,
                "seed": 7,
                "camera": "image_aux1",
                "folder": folder,
            },
            "model": {"num_frames": 16, "image_size": image_size, "image_channels": channels},
        }
    )


@pytest.fixture
def config_for():
    return make_config


@pytest.fixture
def prepare_cli():
    """prepare_cli(dataset, data_dir, manual_dir) -> the finished CompletedProcess of the
    prepare command line, expected to refuse (exit 2, no traceback)."""

    def run(dataset, data_dir, manual_dir):
        result = run_module(
            "inbetweening.data.prepare",
            f"--dataset={dataset}",
            f"--data_dir={data_dir}",
            f"--manual_dir={manual_dir}",
        )
        assert result.returncode == 2, result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        return result

    return run
