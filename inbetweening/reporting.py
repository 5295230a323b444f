"""Where training results go: TensorBoard events, sample GIFs, metrics.json, the log.

Only process 0 writes; the others get a writer that drops everything.
"""

import json
import os

import jax
import numpy as np
from absl import logging
from tensorboardX import SummaryWriter
from tensorboardX.proto.summary_pb2 import Summary

from inbetweening.visualize import gif_bytes, video_grid, write_atomically


class Reporter:
    def __init__(self, workdir: str):
        self.workdir = workdir
        self.enabled = jax.process_index() == 0
        self._writer = SummaryWriter(workdir) if self.enabled else None

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self.enabled:
            for name, value in values.items():
                self._writer.add_scalar(name, value, step)

    def samples(self, step: int, real: np.ndarray, generated: np.ndarray, tag: str) -> str:
        """real: uint8 [N, T, H, W, C]; generated: [N, K, T, H, W, C]. One row per example:
        the real video, then K in-betweens. Writes an animated GIF to TensorBoard and to
        workdir/<tag>.gif; returns that path."""
        path = os.path.join(self.workdir, f"{tag}.gif")
        if not self.enabled:
            return path
        grid = video_grid(np.concatenate([real[:, None], generated], axis=1))
        encoded = gif_bytes(grid)
        image = Summary.Image(
            height=grid.shape[1],
            width=grid.shape[2],
            colorspace=grid.shape[3],
            encoded_image_string=encoded,
        )
        self._writer.file_writer.add_summary(
            Summary(value=[Summary.Value(tag=tag, image=image)]), step
        )
        write_atomically(path, encoded)
        return path

    def json(self, name: str, values: dict) -> str:
        path = os.path.join(self.workdir, name)
        if self.enabled:
            write_atomically(path, (json.dumps(values, indent=2) + "\n").encode())
        return path

    def close(self) -> None:
        if self.enabled:
            self._writer.close()
        logging.flush()
