"""Reading user-given videos for evaluation, with checks that name the bad input.

Accepted: a .npy/.npz array [N, T, H, W, C], or a folder of video files (.gif, .mp4, .avi,
.mov, .mkv, .webm; decoded by inbetweening.data.video_io), each [T, H, W, C], all of one shape.
Values: uint8 means 0..255; float means [-1, 1] (the project's model range), never [0, 1].
"""

import pathlib

import numpy as np
from absl import logging

from inbetweening.data import video_io

C_RGB, C_GRAY = 3, 1
# frechet_video_distance asserts its inputs lie within [-1.001, 1.001].
FLOAT_RANGE_TOLERANCE = 1e-3
ARRAY_SUFFIXES = (".npy", ".npz")
NPZ_KEY = "videos"


class VideoInputError(ValueError):
    """A user-given video input is unusable; the message names it and says why."""


def read_video_file(path: pathlib.Path) -> np.ndarray:
    """One video file -> [T, H, W, 3] uint8."""
    if path.suffix.lower() not in video_io.VIDEO_EXTENSIONS:
        raise VideoInputError(f"{path}: unknown video type {path.suffix.lower()!r}")
    try:
        return video_io.read_video(path, channels=C_RGB)
    except video_io.UnreadableVideoError as e:
        raise VideoInputError(f"{path}: {e}") from None


def _read_array(path: pathlib.Path) -> np.ndarray:
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise VideoInputError(f"{path}: cannot read array ({e})") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        if NPZ_KEY in loaded.files:
            return loaded[NPZ_KEY]
        if len(loaded.files) == 1:
            return loaded[loaded.files[0]]
        raise VideoInputError(f"{path}: holds arrays {loaded.files}; name the videos {NPZ_KEY!r}")


def _read_folder(path: pathlib.Path) -> np.ndarray:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in video_io.VIDEO_EXTENSIONS)
    if not files:
        raise VideoInputError(f"{path}: no video files ({', '.join(video_io.VIDEO_EXTENSIONS)})")
    videos = [read_video_file(f) for f in files]
    for f, video in zip(files, videos):
        if video.shape != videos[0].shape:
            raise VideoInputError(
                f"{f}: shape {video.shape} differs from {files[0].name}'s {videos[0].shape}"
            )
    return np.stack(videos)


def check_videos(videos: np.ndarray, name: str) -> np.ndarray:
    """Returns `videos` [N, T, H, W, C] if usable; otherwise raises VideoInputError."""
    if videos.ndim != 5:
        raise VideoInputError(f"{name}: videos must be [N, T, H, W, C], got shape {videos.shape}")
    if videos.shape[-1] not in (C_RGB, C_GRAY):
        raise VideoInputError(f"{name}: {videos.shape[-1]} channels; need {C_RGB} or {C_GRAY}")
    if videos.dtype == np.uint8:
        return videos
    if not np.issubdtype(videos.dtype, np.floating):
        raise VideoInputError(
            f"{name}: dtype {videos.dtype}; need uint8 (0..255) or float ([-1, 1])"
        )
    low, high = float(np.min(videos)), float(np.max(videos))
    if not (-1 - FLOAT_RANGE_TOLERANCE <= low and high <= 1 + FLOAT_RANGE_TOLERANCE):
        raise VideoInputError(
            f"{name}: float values span [{low:g}, {high:g}]; float videos must be in [-1, 1] "
            f"(uint8 for 0..255)"
        )
    if low >= 0:
        logging.warning(
            "%s: float values are taken as [-1, 1]; these are all >= 0 -- "
            "if they are in [0, 1], rescale them to [-1, 1]",
            name,
        )
    return videos.astype(np.float32)


def load_videos(path: str, name: str, single_video: bool = False) -> np.ndarray:
    """Reads and checks the videos at `path` -> [N, T, H, W, C] uint8 or float32 in [-1, 1].

    `name` (e.g. '--real=a.npy') prefixes errors. With `single_video`, `path` is one video:
    a video file, or an array [T, H, W, C] or [1, T, H, W, C]; the result has N = 1.
    """
    file = pathlib.Path(path)
    if not file.exists():
        raise VideoInputError(f"{name}: no such file or folder")
    if file.suffix.lower() in ARRAY_SUFFIXES:
        videos = _read_array(file)
        if single_video and videos.ndim == 4:
            videos = videos[np.newaxis]
    elif single_video and file.is_file():
        videos = read_video_file(file)[np.newaxis]
    elif not single_video and file.is_dir():
        videos = _read_folder(file)
    else:
        kind = "a video file" if single_video else "a folder of videos"
        raise VideoInputError(f"{name}: need a {' or '.join(ARRAY_SUFFIXES)} array or {kind}")
    if single_video and len(videos) != 1:
        raise VideoInputError(f"{name}: holds {len(videos)} videos; give one")
    return check_videos(videos, name)
