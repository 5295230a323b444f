"""KTH human actions, grayscale, stored as consecutive 16-frame sub-sequences.

Sources: the six official zips of `personNN_ACTION_dK_uncomp.avi` files (160x120, 25
fps). Splits by person (the paper's): 1-15 train, 16 validation, 17-25 test. Each video
is cut into non-overlapping 16-frame clips from its first frame, all of them kept; the
frames after the last whole clip are dropped.
"""

import re

import numpy as np
import tensorflow_datasets as tfds

from inbetweening.data import video_io
from inbetweening.data.builders import common

ACTIONS = ("walking", "jogging", "running", "boxing", "handwaving", "handclapping")
LAST_TRAIN_PERSON = 15
VALIDATION_PERSON = 16
CLIP_LENGTH = common.MIN_FRAMES
_FILE_NAME = re.compile(r"person(\d+)_([a-z]+)_d(\d+)_uncomp\.avi$")


def split_of(person: int) -> str:
    if person <= LAST_TRAIN_PERSON:
        return "train"
    return "validation" if person == VALIDATION_PERSON else "test"


class KthActions(common.VideoBuilder):
    """Features: video [16, S, S, 1], person, action, scenario, clip_index."""

    name = "inbetweening_kth"
    SOURCES = tuple(
        common.SourceFile(
            f"{action}.zip",
            f"https://www.csc.kth.se/cvap/actions/{action}.zip",
            extracted_name=action,
        )
        for action in ACTIONS
    )
    CHANNELS = 1

    def _info(self) -> tfds.core.DatasetInfo:
        return self._dataset_info(
            {
                "video": self._video_feature(CLIP_LENGTH),
                "person": np.int32,
                "action": tfds.features.ClassLabel(names=ACTIONS),
                "scenario": np.int32,
                "clip_index": np.int32,
            },
            description=__doc__,
            homepage="https://www.csc.kth.se/cvap/actions/",
        )

    def _split_generators(self, dl_manager):
        videos_by_split = {split: [] for split in common.SPLITS}
        for source in self._locate_sources(dl_manager).values():
            for path in common.find_files(self._extract(dl_manager, source), (".avi",)):
                match = _FILE_NAME.search(path.name)
                if match is None or match[2] not in ACTIONS:
                    self._skip(str(path), "name is not personNN_ACTION_dK_uncomp.avi")
                    continue
                person, action, scenario = int(match[1]), match[2], int(match[3])
                videos_by_split[split_of(person)].append((path, person, action, scenario))
        # TFDS cannot write an empty split.
        return {
            split: self._generate_examples(videos)
            for split, videos in videos_by_split.items()
            if videos
        }

    def _generate_examples(self, videos):
        for path, person, action, scenario in videos:
            video = self._read_usable_video(path)
            if video is None:
                continue
            for clip_index, clip in enumerate(video_io.split_into_clips(video, CLIP_LENGTH)):
                yield (
                    f"{path.stem}_{clip_index}",
                    {
                        "video": clip,
                        "person": person,
                        "action": action,
                        "scenario": scenario,
                        "clip_index": clip_index,
                    },
                )
