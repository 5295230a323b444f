"""Python API: in-betweens of key frames from a trained model.

from inbetweening.api import Inbetweener
model = Inbetweener.load("workdir")          # or a `params` export
videos = model.sample("start.png", "end.png", num_samples=8, seed=0)  # uint8 [8,T,H,W,C]
story = model.sample_sequence(["a.png", "b.png", "c.png"], segment_noise="shared")
# story: uint8 [1, 2T-1, H, W, C]
"""

import io
import os
import warnings
from typing import Sequence, Union

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from PIL import Image, UnidentifiedImageError

from inbetweening.data.pixels import convert_channels
from inbetweening.data.video_io import crop_square_and_resize
from inbetweening.models.sampling import draw_noise, sample_inbetweens
from inbetweening.storage.paths import user_path
from inbetweening.training.checkpoints import CheckpointNotFoundError
from inbetweening.training.trained_models import TrainedGenerator

__all__ = ["CheckpointNotFoundError", "Inbetweener", "KeyFrameError", "SEGMENT_NOISE", "SIZES"]

KeyFrame = Union[str, os.PathLike, Image.Image, np.ndarray]
# "model": key frames centre-cropped and resized to the training size; "native": the
# generator runs at the key frames' own size (it is fully convolutional).
SIZES = ("model", "native")
# The noise of a sequence's segments: a new u for each, or one u for all.
SEGMENT_NOISE = ("independent", "shared")
# The image encoder halves the frame three times.
ENCODER_STRIDE = 8
_CHANNELS_OF_MODE = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


class KeyFrameError(ValueError):
    """A key frame that cannot be used: missing, not an image, or of the wrong shape."""


class Inbetweener(TrainedGenerator):
    """A trained generator with its running batch statistics (inference mode):
    Inbetweener.load(a work directory or a params export), then sample()."""

    def prepare_key_frames(
        self, frames: Sequence[KeyFrame], names: Sequence[str], size: str = "model"
    ) -> np.ndarray:
        """Key frames -> uint8 [N, H, W, C] in the model's colour mode: gray frames for an
        RGB model repeated into RGB, RGB frames for a gray model reduced to luma, alpha
        dropped (a log line says so). size "model": frames of another size are
        centre-cropped to a square and resized to the training size; "native": kept at
        their own size, whose height and width must be multiples of ENCODER_STRIDE."""
        if size not in SIZES:
            raise KeyFrameError(f"size={size!r}: must be one of {SIZES}")
        channels = self.model_config.image_channels
        converted = []
        for name, frame in zip(names, frames):
            frame = _as_uint8_frame(frame, name)
            if frame.shape[-1] not in _CHANNELS_OF_MODE.values():
                raise KeyFrameError(
                    f"{name} key frame has {frame.shape[-1]} channels; "
                    "expected 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA)"
                )
            if frame.shape[-1] != channels:
                logging.info(
                    "The %s key frame has %d channels: converted to the model's %d",
                    name,
                    frame.shape[-1],
                    channels,
                )
            converted.append(convert_channels(frame, channels))
        sizes = {frame.shape[:2] for frame in converted}
        if len(sizes) > 1:
            listing = ", ".join(f"{name} is {_size(f)}" for name, f in zip(names, converted))
            raise KeyFrameError(f"key frames differ in size: {listing}")
        frames = np.stack(converted)
        if size == "native":
            _check_native_size(frames[0])
            return frames
        height, width, _ = self.frame_shape
        if frames.shape[1:3] != (height, width):
            logging.info(
                "Key frames are %s: centre-cropped and resized to %s",
                _size(frames[0]),
                f"{width}x{height}",
            )
            frames = crop_square_and_resize(frames, height)
        return frames

    def key_frames(
        self, start: KeyFrame, end: KeyFrame, size: str = "model"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Two key frames -> uint8 [H, W, C] each, as prepare_key_frames makes them."""
        start, end = self.prepare_key_frames((start, end), ("start", "end"), size)
        return start, end

    def sample(
        self,
        start: KeyFrame,
        end: KeyFrame,
        num_samples: int = 1,
        seed: int = 0,
        size: str = "model",
    ) -> np.ndarray:
        """In-betweens of two key frames: uint8 [num_samples, T, H, W, C], frames 0 and T-1
        being the key frames. Key frames are file paths, PIL images or arrays [H, W, C] or
        [H, W]: uint8, or float in 0..255 (rounded). `size`: as prepare_key_frames."""
        start, end = self.key_frames(start, end, size)
        videos = sample_inbetweens(
            self.generator,
            self.variables,
            start[None],
            end[None],
            num_samples,
            jax.random.PRNGKey(seed),
        )
        return videos[0]

    def sample_sequence(
        self,
        key_frames: Sequence[KeyFrame],
        num_samples: int = 1,
        seed: int = 0,
        segment_noise: str = "independent",
        size: str = "model",
        noise: str | None = None,
    ) -> np.ndarray:
        """One video through N >= 2 key frames: every consecutive pair in-betweened, the
        shared key frames written once. Returns uint8 [num_samples, (N - 1) * (T - 1) + 1,
        H, W, C]; key frame k is frame k * (T - 1), exactly.

        segment_noise: "independent" (a new u for every segment) or "shared" (one u per
        sample for every segment: the same motion style throughout), as the CLI's
        --segment_noise. With two key frames and either, the video is sample()'s for the
        same seed. Key frames and `size`: as sample(). `noise` is segment_noise's old
        name, kept for one release.
        """
        if noise is not None:
            warnings.warn(
                "sample_sequence(noise=...) is now segment_noise=...", DeprecationWarning, 2
            )
            segment_noise = noise
        if segment_noise not in SEGMENT_NOISE:
            raise KeyFrameError(f"segment_noise={segment_noise!r}: must be one of {SEGMENT_NOISE}")
        if len(key_frames) < 2:
            raise KeyFrameError(f"a sequence needs at least 2 key frames, got {len(key_frames)}")
        names = [f"key frame {index + 1}" for index in range(len(key_frames))]
        frames = self.prepare_key_frames(key_frames, names, size)
        segments = len(frames) - 1
        u = draw_noise(
            jax.random.PRNGKey(seed),
            1 if segment_noise == "shared" else segments,
            num_samples,
            self.model_config.noise_dim,
        )
        videos = sample_inbetweens(
            self.generator,
            self.variables,
            frames[:-1],
            frames[1:],
            num_samples,
            key=None,
            noise=jnp.broadcast_to(u, (segments, *u.shape[1:])),
        )
        # [segments, S, T, ...]: each segment but the last without its end frame, which
        # is the next segment's start frame.
        parts = [videos[i, :, :-1] for i in range(segments - 1)] + [videos[-1]]
        return np.concatenate(parts, axis=1)


def _check_native_size(frame: np.ndarray) -> None:
    height, width = frame.shape[:2]
    if height % ENCODER_STRIDE or width % ENCODER_STRIDE:
        # Halves round up: 20 -> 24.
        nearest = lambda side: max(1, int(side / ENCODER_STRIDE + 0.5)) * ENCODER_STRIDE
        raise KeyFrameError(
            f"key frames are {width}x{height}: size='native' needs a height and width that "
            f"are multiples of {ENCODER_STRIDE} (the image encoder's stride); the nearest "
            f"valid size is {nearest(width)}x{nearest(height)}"
        )


def _as_uint8_frame(frame: KeyFrame, name: str) -> np.ndarray:
    if isinstance(frame, (str, os.PathLike)):
        frame = _open_image(os.fspath(frame), name)
    if isinstance(frame, Image.Image):
        if frame.mode not in _CHANNELS_OF_MODE:
            frame = frame.convert("L" if frame.mode in ("1", "I", "I;16", "F") else "RGB")
        frame = np.asarray(frame)
    frame = np.asarray(frame)
    if frame.ndim == 2:
        frame = frame[..., None]
    if frame.ndim != 3:
        raise KeyFrameError(f"{name} key frame has shape {frame.shape}; expected [H, W, C]")
    if np.issubdtype(frame.dtype, np.floating):
        return np.clip(np.round(frame), 0, 255).astype(np.uint8)
    if frame.dtype != np.uint8:
        raise KeyFrameError(f"{name} key frame is {frame.dtype}; expected uint8 or float")
    return frame


def _open_image(path: str, name: str) -> Image.Image:
    if not user_path(path).is_file():
        raise KeyFrameError(f"{name} key frame {path}: no such file")
    try:
        with Image.open(io.BytesIO(user_path(path).read_bytes())) as image:
            image.load()
            return image
    except (UnidentifiedImageError, OSError) as error:
        raise KeyFrameError(f"{name} key frame {path} is not a readable image ({error})")


def _size(frame: np.ndarray) -> str:
    return f"{frame.shape[1]}x{frame.shape[0]}"
