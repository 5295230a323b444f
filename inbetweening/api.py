"""Python API: in-betweens of two key frames from a trained model.

from inbetweening.api import Inbetweener
model = Inbetweener.load("workdir")          # or a `params` export
videos = model.sample("start.png", "end.png", num_samples=8, seed=0)  # uint8 [8,T,H,W,C]
"""

import json
import os
from typing import Union

import jax
import ml_collections
import numpy as np
import orbax.checkpoint as ocp
from absl import logging
from PIL import Image, UnidentifiedImageError

from inbetweening.checkpoint import TrainingCheckpoints, checkpoint_dir
from inbetweening.data.video_io import crop_square_and_resize
from inbetweening.inference import sample_inbetweens
from inbetweening.models import create_models
from inbetweening.pixels import convert_channels

# Layout of a `params` export (inbetweening.export --format=params).
MODEL_CONFIG_FILE = "model_config.json"
VARIABLES_DIR = "variables"

KeyFrame = Union[str, os.PathLike, Image.Image, np.ndarray]
_CHANNELS_OF_MODE = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


class CheckpointNotFoundError(ValueError):
    """A path that is neither a work directory with checkpoints nor a `params` export."""


class KeyFrameError(ValueError):
    """A key frame that cannot be used: missing, not an image, or of the wrong shape."""


class Inbetweener:
    """A trained generator with its running batch statistics (inference mode)."""

    def __init__(self, model_config: ml_collections.ConfigDict, variables: dict):
        """variables: {"params": ..., "batch_stats": ...} of the generator."""
        self.model_config = model_config
        self.generator = create_models(model_config).generator
        self.variables = variables

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Inbetweener":
        """From a training work directory (its best checkpoint: lowest validation FVD, else
        the latest) or from a `params` export directory."""
        path = os.fspath(path)
        if os.path.isfile(os.path.join(path, MODEL_CONFIG_FILE)):
            with open(os.path.join(path, MODEL_CONFIG_FILE)) as handle:
                model_config = ml_collections.ConfigDict(json.load(handle))
            variables = ocp.StandardCheckpointer().restore(
                os.path.join(os.path.abspath(path), VARIABLES_DIR)
            )
            return cls(model_config, variables)
        if not os.path.isdir(checkpoint_dir(path)):
            raise CheckpointNotFoundError(
                f"{path}: neither a work directory with checkpoints/ nor a params export "
                f"(with {MODEL_CONFIG_FILE})"
            )
        checkpoints = TrainingCheckpoints(path, keep=1, read_only=True)
        step = checkpoints.best_step()
        if step is None:
            raise CheckpointNotFoundError(f"{checkpoint_dir(path)} holds no complete checkpoint")
        state, meta = checkpoints.restore_raw(step)
        logging.info("Loaded %s step %d", checkpoints.directory, step)
        return cls(
            ml_collections.ConfigDict(meta["config"]["model"]),
            {"params": state["g_params"], "batch_stats": state["g_batch_stats"]},
        )

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of the frames the model makes."""
        m = self.model_config
        return m.image_size, m.image_size, m.image_channels

    def key_frames(self, start: KeyFrame, end: KeyFrame) -> tuple[np.ndarray, np.ndarray]:
        """Two key frames -> uint8 [H, W, C] each at the model's size and colour mode; frames
        of another size are centre-cropped to a square and resized, gray frames for an RGB
        model repeated into RGB, RGB frames for a gray model reduced to luma, alpha dropped
        (a log line says so)."""
        start, end = _as_uint8_frame(start, "start"), _as_uint8_frame(end, "end")
        channels = self.model_config.image_channels
        for name, frame in (("start", start), ("end", end)):
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
        start, end = convert_channels(start, channels), convert_channels(end, channels)
        if start.shape != end.shape:
            raise KeyFrameError(
                f"key frames differ in size: start is {_size(start)}, end is {_size(end)}"
            )
        height, width, _ = self.frame_shape
        if start.shape[:2] != (height, width):
            logging.info(
                "Key frames are %s: centre-cropped and resized to %s",
                _size(start),
                f"{width}x{height}",
            )
            start, end = crop_square_and_resize(np.stack([start, end]), height)
        return start, end

    def sample(
        self, start: KeyFrame, end: KeyFrame, num_samples: int = 1, seed: int = 0
    ) -> np.ndarray:
        """In-betweens of two key frames: uint8 [num_samples, T, H, W, C], frames 0 and T-1
        being the key frames. Key frames are file paths, PIL images or arrays [H, W, C] or
        [H, W]: uint8, or float in 0..255 (rounded)."""
        start, end = self.key_frames(start, end)
        videos = sample_inbetweens(
            self.generator,
            self.variables,
            start[None],
            end[None],
            num_samples,
            jax.random.PRNGKey(seed),
        )
        return videos[0]


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
    if not os.path.isfile(path):
        raise KeyFrameError(f"{name} key frame {path}: no such file")
    try:
        with Image.open(path) as image:
            image.load()
            return image
    except (UnidentifiedImageError, OSError) as error:
        raise KeyFrameError(f"{name} key frame {path} is not a readable image ({error})")


def _size(frame: np.ndarray) -> str:
    return f"{frame.shape[1]}x{frame.shape[0]}"
