"""BAIR robot pushing (softmotion30_44k): sequences of 30 RGB frames, both cameras kept.

Sequence numbers: the archive's files are named `traj_A_to_B.tfrecords` and hold
sequences A..B in order, so a record's number is A + its position in the file. The
numbering runs across both folders of the archive (test/ holds traj_0_to_255, train/
starts at traj_256_to_511), so both folders are read and the splits of the paper
(Appendix B.2) are cut by number alone: test = 0-255 (exactly the original test/
folder), validation = 256-2559, train = 2560 and up.
"""

import re

import numpy as np
import tensorflow_datasets as tfds

from inbetweening.data import video_io
from inbetweening.data.builders import common
from inbetweening.runtime import command_line

tf = command_line.import_tensorflow()

FIRST_VALIDATION_SEQUENCE = 256
FIRST_TRAIN_SEQUENCE = 2560
FRAMES_PER_SEQUENCE = 30
NATIVE_FRAME_SHAPE = (64, 64, 3)
# The first is what the input pipeline reads by default: the released demo uses image_aux1.
CAMERAS = ("image_aux1", "image_main")
_FILE_NAME = re.compile(r"traj_(\d+)_to_(\d+)\.tfrecords$")
_SPLIT_RANGES = {
    "test": (0, FIRST_VALIDATION_SEQUENCE - 1),
    "validation": (FIRST_VALIDATION_SEQUENCE, FIRST_TRAIN_SEQUENCE - 1),
    "train": (FIRST_TRAIN_SEQUENCE, float("inf")),
}


def _overlaps(first: int, last: int, split: str) -> bool:
    """Whether sequence numbers first..last reach into `split`."""
    first_wanted, last_wanted = _SPLIT_RANGES[split]
    return first <= last_wanted and last >= first_wanted


class BairRobotPushing(common.VideoBuilder):
    """softmotion30_44k with the paper's splits; features image_aux1, image_main [30, S, S, 3]."""

    name = "inbetweening_bair"
    SOURCES = (
        common.SourceFile(
            "bair_robot_pushing_dataset_v0.tar",
            "http://rail.eecs.berkeley.edu/datasets/bair_robot_pushing_dataset_v0.tar",
            extracted_name="softmotion30_44k",
        ),
    )
    VIDEO_KEYS = CAMERAS

    def _info(self) -> tfds.core.DatasetInfo:
        features = {camera: self._video_feature(FRAMES_PER_SEQUENCE) for camera in CAMERAS}
        features["sequence_number"] = np.int64
        return self._dataset_info(
            features, description=__doc__, homepage="https://sites.google.com/view/sna-visual-mpc/"
        )

    def _split_generators(self, dl_manager):
        (source,) = self._locate_sources(dl_manager).values()
        root = self._extract(dl_manager, source)
        if (root / "softmotion30_44k").is_dir():
            root = root / "softmotion30_44k"
        numbered_files = []
        for path in common.find_files(root, (".tfrecords",)):
            match = _FILE_NAME.search(path.name)
            if match is None:
                self._skip(
                    str(path), "name is not traj_A_to_B.tfrecords, so its sequences have no number"
                )
                continue
            numbered_files.append((int(match[1]), int(match[2]), path))
        numbered_files.sort()
        # TFDS cannot write an empty split, so splits no file reaches are left out.
        reached_splits = [
            split
            for split in common.SPLITS
            if any(_overlaps(first, last, split) for first, last, _ in numbered_files)
        ]
        return {split: self._generate_examples(numbered_files, split) for split in reached_splits}

    def _generate_examples(self, numbered_files, split: str):
        first_wanted, last_wanted = _SPLIT_RANGES[split]
        for first, last, path in numbered_files:
            # A file's name bounds its numbers, so files outside the split need no reading.
            if not _overlaps(first, last, split):
                continue
            for position, record in self._records(path):
                number = first + position
                if number > last:
                    self._skip(
                        f"{path} record {position}",
                        f"beyond the range {first}-{last} its name declares",
                    )
                elif first_wanted <= number <= last_wanted:
                    example = self._decode(record, f"{path} record {position}")
                    if example is not None:
                        yield number, {**example, "sequence_number": number}

    def _records(self, path):
        try:
            for position, record in enumerate(
                tf.data.TFRecordDataset(str(path)).as_numpy_iterator()
            ):
                yield position, record
        except tf.errors.OpError as error:
            self._skip(str(path), f"unreadable from here on ({error.message})")

    def _decode(self, record: bytes, name: str) -> dict | None:
        """The two camera videos `[30, S, S, 3]` of one record, or None if it is malformed."""
        features = tf.train.Example.FromString(record).features.feature
        videos = {}
        for camera in CAMERAS:
            frames = []
            for index in range(FRAMES_PER_SEQUENCE):
                key = f"{index}/{camera}/encoded"
                encoded = features[key].bytes_list.value if key in features else []
                if len(encoded) != 1 or len(encoded[0]) != np.prod(NATIVE_FRAME_SHAPE):
                    self._skip(name, f"feature {key} is missing or not a raw 64x64x3 frame")
                    return None
                frames.append(np.frombuffer(encoded[0], np.uint8).reshape(NATIVE_FRAME_SHAPE))
            videos[camera] = video_io.crop_square_and_resize(np.stack(frames), self.image_size)
        return videos
