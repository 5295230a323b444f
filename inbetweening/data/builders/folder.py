"""A directory of the user's own videos (video_io.VIDEO_EXTENSIONS: mp4, avi, gif, webm,
mov, mkv) or folders of frame images.

A folder whose files include png/jpg images is one video, its frames in file-name
order. With at least HASH_SPLIT_MIN_VIDEOS videos, the split of each video is fixed by a
hash of its path relative to the root: TRAIN_PERCENT train, VALIDATION_PERCENT
validation, the rest test, so adding videos never moves the others. With fewer (a user's
handful of long videos, the common case), every video is cut in time instead: its first
frames train, then a validation segment, then a test segment (each held-out segment
VALIDATION_PERCENT of the video and at least MIN_FRAMES frames), so that every split
gets clips and no clip spans two splits; a video too short to cut goes to train whole.

A prepared version is named after the root's absolute path and a fingerprint of what it
holds (each video's relative path, size and modification time): adding, replacing or
removing a video makes a new version, to prepare again, and training looks for the one
that matches the folder as it is now. Moving the folder also means preparing it again.
"""

import dataclasses
import hashlib
import json
import os
import pathlib
import re
import time

import tensorflow_datasets as tfds
from absl import logging

from inbetweening.data import video_io
from inbetweening.data.builders import common

TRAIN_PERCENT = 90
VALIDATION_PERCENT = 5
HASH_SPLIT_MIN_VIDEOS = 20


@dataclasses.dataclass(eq=False)
class FolderConfig(common.VideoBuilderConfig):
    """`source_dir`: the root of the user's videos."""

    source_dir: str = ""


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def folder_prefix(root: str) -> str:
    """The part of a version's name that names the folder (its path), shared by every
    version of it."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", os.path.basename(root)).strip("_") or "root"
    return f"{slug}_{_short_hash(root)}"


def contents(root: str) -> dict[str, list[int]]:
    """{relative path: [size in bytes, modification time in ns]} of each video under
    `root`; a frame folder's are the sums and the latest of its frame files."""
    listing = {}
    for relative_path in find_videos(root):
        path = os.path.join(root, relative_path)
        files = (
            [os.path.join(path, name) for name in os.listdir(path)]
            if os.path.isdir(path)
            else [path]
        )
        stats = [os.stat(name) for name in files]
        listing[relative_path] = [
            sum(stat.st_size for stat in stats),
            max(stat.st_mtime_ns for stat in stats),
        ]
    return listing


def config_for_folder(source_dir: str, image_size: int) -> FolderConfig:
    """The version of the folder's dataset that matches what the folder holds now."""
    root = os.path.abspath(os.path.expanduser(source_dir))
    fingerprint = (
        _short_hash(json.dumps(contents(root), sort_keys=True)) if os.path.isdir(root) else "none"
    )
    return FolderConfig(
        name=f"{folder_prefix(root)}_{fingerprint}_{image_size}px",
        image_size=image_size,
        source_dir=root,
    )


class NoReadableVideoError(common.SourceFilesMissingError):
    """A folder in which no video can be decoded into MIN_FRAMES frames or more."""


def require_a_usable_video(root: str) -> None:
    """Raises NoReadableVideoError unless some video under `root` decodes to at least
    MIN_FRAMES frames (reading videos in order until one does)."""
    undecodable, short = [], []
    for relative_path in find_videos(root):
        path = pathlib.Path(root) / relative_path
        try:
            video = (
                video_io.read_frame_folder(path, VideoFolder.CHANNELS)
                if path.is_dir()
                else video_io.read_video(path, VideoFolder.CHANNELS)
            )
        except video_io.UnreadableVideoError:
            undecodable.append(relative_path)
            continue
        if len(video) >= common.MIN_FRAMES:
            return
        short.append(relative_path)
    problems = []
    for paths, what in (
        (undecodable, "could not be decoded"),
        (short, f"have fewer than {common.MIN_FRAMES} frames"),
    ):
        if paths:
            shown = ", ".join(paths[:5]) + (", ..." if len(paths) > 5 else "")
            problems.append(f"{len(paths)} {what} ({shown})")
    found = "; ".join(problems) if problems else "none were found"
    raise NoReadableVideoError(
        f"{root} holds no usable video: looked for {', '.join(video_io.VIDEO_EXTENSIONS)} files "
        f"and folders of {', '.join(video_io.FRAME_EXTENSIONS)} frames; {found}"
    )


def changes(old: dict[str, list[int]], new: dict[str, list[int]]) -> dict[str, int]:
    """How many videos were added, removed and changed between two `contents` listings."""
    return {
        "added": len(new.keys() - old.keys()),
        "removed": len(old.keys() - new.keys()),
        "changed": sum(1 for path in old.keys() & new.keys() if old[path] != new[path]),
    }


def split_of(relative_path: str) -> str:
    percentile = int(hashlib.sha256(relative_path.encode()).hexdigest(), 16) % 100
    if percentile < TRAIN_PERCENT:
        return "train"
    return "validation" if percentile < TRAIN_PERCENT + VALIDATION_PERCENT else "test"


def time_segments(num_frames: int) -> dict[str, tuple[int, int]] | None:
    """Frame ranges [start, stop) of one video cut in time, by split; None when the video
    is too short for three segments of at least MIN_FRAMES frames."""
    held_out = max(common.MIN_FRAMES, num_frames * VALIDATION_PERCENT // 100)
    train_stop = num_frames - 2 * held_out
    if train_stop < common.MIN_FRAMES:
        return None
    return {
        "train": (0, train_stop),
        "validation": (train_stop, train_stop + held_out),
        "test": (train_stop + held_out, num_frames),
    }


def find_videos(root: str) -> list[str]:
    """Relative paths of the video files and frame folders under `root`, sorted."""
    found = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories.sort()
        if directory != root and video_io.is_frame_folder(directory):
            found.append(os.path.relpath(directory, root))
            subdirectories.clear()  # A frame folder is one video; nothing under it is another.
            continue
        found.extend(
            os.path.relpath(os.path.join(directory, name), root)
            for name in files
            if name.lower().endswith(video_io.VIDEO_EXTENSIONS)
        )
    return sorted(found)


class VideoFolder(common.VideoBuilder):
    """Features: video [T, S, S, 3] (whole video), path (relative to the root)."""

    name = "inbetweening_folder"

    def _info(self) -> tfds.core.DatasetInfo:
        features = {"video": self._video_feature(None), "path": tfds.features.Text()}
        return self._dataset_info(features, description=__doc__, homepage="")

    def _split_generators(self, dl_manager):
        root = self.builder_config.source_dir
        if not os.path.isdir(root):
            raise common.SourceFilesMissingError(
                f"Expected a folder of videos ({', '.join(video_io.VIDEO_EXTENSIONS)}) or of "
                f"frame folders (png, jpg) at {root}, which is not a directory."
            )
        relative_paths = find_videos(root)
        self.info.metadata["contents"] = contents(root)
        # Finer than a directory's modification time (whole seconds on some file systems),
        # so that the newest of several versions prepared within a second is known.
        self.info.metadata["prepared_ns"] = time.time_ns()
        videos_by_split = {split: [] for split in common.SPLITS}
        if len(relative_paths) >= HASH_SPLIT_MIN_VIDEOS:
            for relative_path in relative_paths:
                videos_by_split[split_of(relative_path)].append((relative_path, None))
        else:
            self._cut_in_time(root, relative_paths, videos_by_split)
        # TFDS cannot write an empty split; a small folder may have no test video.
        return {
            split: self._generate_examples(root, videos)
            for split, videos in videos_by_split.items()
            if videos
        }

    def _cut_in_time(self, root: str, relative_paths: list[str], videos_by_split) -> None:
        for relative_path in relative_paths:
            video = self._read_usable_video(pathlib.Path(root) / relative_path)
            if video is None:
                continue
            segments = time_segments(len(video))
            if segments is None:
                logging.warning(
                    "%s: %d frames, too few to cut into train, validation and "
                    "test segments of %d or more: all of it goes to train",
                    relative_path,
                    len(video),
                    common.MIN_FRAMES,
                )
                segments = {"train": (0, len(video))}
            for split, frames in segments.items():
                videos_by_split[split].append((relative_path, frames))

    def _generate_examples(self, root: str, videos: list[tuple[str, tuple[int, int] | None]]):
        """videos: (relative path, frame range [start, stop) or None for all of it)."""
        for relative_path, frames in videos:
            video = self._read_usable_video(pathlib.Path(root) / relative_path)
            if video is None:
                continue
            key = relative_path
            if frames is not None:
                video, key = video[slice(*frames)], f"{relative_path}[{frames[0]}:{frames[1]}]"
            yield key, {"video": video, "path": relative_path}
