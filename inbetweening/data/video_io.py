"""Reading videos and frame folders into uint8 arrays, and the stored preprocessing.

All arrays here are videos `[T, H, W, C]` uint8 with C = 1 (grayscale) or 3 (RGB).
Decoding uses PyAV, whose wheel ships its own FFmpeg, so no system codecs are needed.
"""

import os
from collections.abc import Sequence

import numpy as np
from PIL import Image

# Every container PyAV (FFmpeg) decodes that users commonly have; the folder dataset and
# the FVD inputs read the same list.
VIDEO_EXTENSIONS = (".mp4", ".avi", ".gif", ".webm", ".mov", ".mkv")
FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg")


class UnreadableVideoError(ValueError):
    """A video or frame folder that cannot be decoded (corrupt, truncated, empty)."""


def _pixel_format(channels: int) -> str:
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    return "gray" if channels == 1 else "rgb24"


def read_video(path: str | os.PathLike, channels: int) -> np.ndarray:
    """Decodes every frame of the video file at `path`.

    Returns:
        uint8 `[T, H, W, channels]`.
    Raises:
        UnreadableVideoError: the container or a frame cannot be decoded, or has no frames.
    """
    # Here, not at the top: PyAV's FFmpeg is needed only where a video file is decoded, and
    # every training and evaluation process imports this module.
    import av

    pixel_format = _pixel_format(channels)
    try:
        with av.open(str(path)) as container:
            frames = (
                [frame.to_ndarray(format=pixel_format) for frame in container.decode(video=0)]
                if container.streams.video
                else []
            )
    except (av.FFmpegError, OSError, ValueError) as error:
        raise UnreadableVideoError(f"cannot decode video: {error}") from error
    if not frames:
        raise UnreadableVideoError("no video stream, or no decodable frames in it")
    return np.stack(frames).reshape(len(frames), *frames[0].shape[:2], channels)


def is_frame_folder(path: str | os.PathLike) -> bool:
    """Whether `path` is a directory holding at least one frame image."""
    return os.path.isdir(path) and any(
        name.lower().endswith(FRAME_EXTENSIONS) for name in os.listdir(path)
    )


def read_frame_folder(folder: str | os.PathLike, channels: int) -> np.ndarray:
    """Reads a folder of frame images in file-name order (frame_0001.png, ...).

    Returns:
        uint8 `[T, H, W, channels]`.
    Raises:
        UnreadableVideoError: an image cannot be read or frames differ in size.
    """
    mode = "L" if channels == 1 else "RGB"
    names = sorted(name for name in os.listdir(folder) if name.lower().endswith(FRAME_EXTENSIONS))
    try:
        frames = []
        for name in names:
            with Image.open(os.path.join(folder, name)) as image:
                frames.append(np.asarray(image.convert(mode)))
        video = np.stack(frames)
    except (OSError, ValueError) as error:
        raise UnreadableVideoError(f"cannot read frames: {error}") from error
    return video.reshape(*video.shape[:3], channels)


def crop_square_and_resize(video: np.ndarray, size: int) -> np.ndarray:
    """Centre-crops each frame to a square and resizes it to `size` x `size`.

    Args:
        video: uint8 `[T, H, W, C]`.
        size: side of the output frames.
    Returns:
        uint8 `[T, size, size, C]`.
    """
    _, height, width, channels = video.shape
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = video[:, top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(square)
    # PIL's bilinear filter widens its support when shrinking, which is what
    # antialiasing needs.
    planes = square[..., 0] if channels == 1 else square
    resized = [
        np.asarray(Image.fromarray(frame).resize((size, size), Image.Resampling.BILINEAR))
        for frame in planes
    ]
    return np.stack(resized).reshape(len(video), size, size, channels)


def split_into_clips(video: np.ndarray, clip_length: int) -> Sequence[np.ndarray]:
    """Consecutive non-overlapping clips `[clip_length, H, W, C]`; a short tail is dropped."""
    return [
        video[start : start + clip_length]
        for start in range(0, len(video) - clip_length + 1, clip_length)
    ]
