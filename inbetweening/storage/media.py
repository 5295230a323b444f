"""Sample grids, animated GIFs and PNGs for people to look at (files and TensorBoard)."""

import io

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


def png_bytes(image: np.ndarray) -> bytes:
    """uint8 [H, W, C] (C = 1 or 3) -> PNG."""
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, format="PNG")
    return buffer.getvalue()
