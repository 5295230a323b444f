"""Sample grids and animated GIFs for people to look at (files and TensorBoard)."""

import io
import os
import tempfile

import numpy as np
from PIL import Image

GIF_FRAME_MS = 125  # 8 frames per second: slow enough to follow the in-between motion


def video_grid(videos: np.ndarray, border: int = 2) -> np.ndarray:
    """uint8 [rows, cols, T, H, W, C] -> one uint8 video [T, rows*(H+b)+b, cols*(W+b)+b, C]
    with a white border of b pixels around every cell."""
    rows, cols, num_frames, height, width, channels = videos.shape
    grid = np.full(
        (num_frames, rows * (height + border) + border, cols * (width + border) + border, channels),
        255,
        np.uint8,
    )
    for r in range(rows):
        for c in range(cols):
            top, left = border + r * (height + border), border + c * (width + border)
            grid[:, top : top + height, left : left + width] = videos[r, c]
    return grid


def gif_bytes(video: np.ndarray) -> bytes:
    """uint8 [T, H, W, C] (C = 1 or 3) -> an endlessly looping animated GIF."""
    frames = [Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame) for frame in video]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, format="GIF", save_all=True, append_images=frames[1:], duration=GIF_FRAME_MS, loop=0
    )
    return buffer.getvalue()


def write_atomically(path: str, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: a reader never sees half."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, delete=False) as handle:
        handle.write(data)
    os.replace(handle.name, path)


def png_bytes(image: np.ndarray) -> bytes:
    """uint8 [H, W, C] (C = 1 or 3) -> PNG."""
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, format="PNG")
    return buffer.getvalue()


def signed_to_uint8(x: np.ndarray) -> np.ndarray:
    """A signed map (a gradient) -> uint8 with 0 at mid-grey, scaled by its largest |x|."""
    scale = max(float(np.abs(x).max()), 1e-30)
    return np.round(127.5 + 127.5 * x / scale).astype(np.uint8)


def push_image(push: dict, videos: np.ndarray, rows: int = 4, zoom: int = 4) -> bytes:
    """PNG: per video (at most `rows`), its middle frame T//2, the generated one, and where
    D_V and D_I push the generated one (probe.generator_push; mid-grey = no push)."""
    middle = videos.shape[1] // 2
    to_pixels = lambda x: np.round((np.asarray(x, np.float32) + 1) * 127.5).astype(np.uint8)
    cells = [
        [
            videos[i, middle],
            to_pixels(push["fake"][i, middle]),
            signed_to_uint8(np.asarray(push["video"][i, middle])),
            signed_to_uint8(np.asarray(push["image"][i, middle])),
        ]
        for i in range(min(rows, len(videos)))
    ]
    grid = video_grid(np.array(cells)[:, :, None])[0]
    return png_bytes(grid.repeat(zoom, axis=0).repeat(zoom, axis=1))
