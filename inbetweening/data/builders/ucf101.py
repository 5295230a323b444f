"""UCF101 whole videos with the splits of the paper, from the "Action Recognition" lists.

test = testlist01.txt; validation = a random 5% of trainlist01.txt drawn with a fixed
seed (VALIDATION_SEED); train = the other 95%.

UCF101.rar is extracted with `rarfile`, which runs an external tool: install one
(Debian: `apt-get install unar`, or libarchive-tools for bsdtar, or 7zip), or put the
already extracted UCF-101/ folder in the manual directory instead of the rar.
"""

import pathlib

import numpy as np
import rarfile
import tensorflow_datasets as tfds

from inbetweening.data.builders import common

VALIDATION_FRACTION = 0.05
VALIDATION_SEED = 0
VIDEOS = common.SourceFile(
    "UCF101.rar", "https://www.crcv.ucf.edu/data/UCF101/UCF101.rar", extracted_name="UCF-101"
)
SPLIT_LISTS = common.SourceFile(
    "UCF101TrainTestSplits-RecognitionTask.zip",
    "https://www.crcv.ucf.edu/data/UCF101/UCF101TrainTestSplits-RecognitionTask.zip",
    extracted_name="ucfTrainTestlist",
)


def read_split_list(path) -> list[str]:
    """Relative video paths (Class/v_Class_gNN_cNN.avi) listed in a split file, in order."""
    return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]


def split_train_list(train_list: list[str]) -> tuple[list[str], list[str]]:
    """(train, validation): a fixed-seed random VALIDATION_FRACTION of `train_list` is held out."""
    rng = np.random.default_rng(VALIDATION_SEED)
    held_out = set(
        rng.choice(
            len(train_list), round(VALIDATION_FRACTION * len(train_list)), replace=False
        ).tolist()
    )
    return (
        [video for i, video in enumerate(train_list) if i not in held_out],
        [video for i, video in enumerate(train_list) if i in held_out],
    )


class Ucf101(common.VideoBuilder):
    """Features: video [T, S, S, 3] (whole video), label (class name), path (as listed)."""

    name = "inbetweening_ucf101"
    SOURCES = (VIDEOS, SPLIT_LISTS)

    def _info(self) -> tfds.core.DatasetInfo:
        return self._dataset_info(
            {
                "video": self._video_feature(None),
                "label": tfds.features.Text(),
                "path": tfds.features.Text(),
            },
            description=__doc__,
            homepage="https://www.crcv.ucf.edu/data/UCF101.php",
        )

    def _split_generators(self, dl_manager):
        sources = self._locate_sources(dl_manager)
        videos_root = self._extract_rar(dl_manager, sources[VIDEOS.archive_name])
        lists_root = self._extract(dl_manager, sources[SPLIT_LISTS.archive_name])
        (train_list,) = common.find_files(lists_root, ("trainlist01.txt",))
        (test_list,) = common.find_files(lists_root, ("testlist01.txt",))
        train, validation = split_train_list(read_split_list(train_list))
        # The lists and the folders disagree on capitals in places (HandstandPushups).
        videos_by_name = {
            str(path.relative_to(videos_root)).lower(): path
            for path in common.find_files(videos_root, (".avi",))
        }
        lists = {"train": train, "validation": validation, "test": read_split_list(test_list)}
        # TFDS cannot write an empty split.
        return {
            split: self._generate_examples(names, videos_by_name)
            for split, names in lists.items()
            if names
        }

    def _extract_rar(self, dl_manager, source):
        if source.is_dir():
            return source
        destination = pathlib.Path(dl_manager.download_dir) / "extracted" / "UCF101"
        done_marker = destination / ".extracted"
        if not done_marker.exists():
            try:
                with rarfile.RarFile(str(source)) as archive:
                    archive.extractall(str(destination))
            except rarfile.Error as error:
                raise common.SourceFilesMissingError(
                    f"Cannot extract {source} ({error}). Install unar, unrar, 7zip or bsdtar, "
                    f"or extract it yourself and put its {VIDEOS.extracted_name}/ folder in "
                    "--manual_dir."
                ) from error
            done_marker.touch()
        return destination / VIDEOS.extracted_name

    def _generate_examples(self, names: list[str], videos_by_name: dict):
        for name in names:
            path = videos_by_name.get(name.lower())
            if path is None:
                self._skip(name, "listed in the split files but not among the videos")
                continue
            video = self._read_usable_video(path)
            if video is not None:
                yield name, {"video": video, "label": name.split("/")[0], "path": name}
