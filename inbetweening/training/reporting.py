"""Where training results go: TensorBoard events, sample GIFs, metrics.json, the log; a
local directory or gs:// alike (storage.paths).

Only process 0 writes; the others get a writer that drops everything.
"""

import io

import jax
import numpy as np
from absl import logging
from etils import epath
from tensorboardX import SummaryWriter, record_writer
from tensorboardX.proto.summary_pb2 import Summary

from inbetweening.storage.media import gif_bytes, video_grid
from inbetweening.storage.paths import REMOTE_SCHEMES, user_path, write_atomically, write_json


class RemoteEventFile:
    """An event file under a remote path, written through storage.paths: object stores
    cannot append, so the records are kept in memory and the object is uploaded whole at
    every flush; past ROTATE_BYTES the file is closed and the records go on in a new object
    (TensorBoard reads every file whose name holds "tfevents")."""

    ROTATE_BYTES = 16 * 2**20

    def __init__(self, path: str):
        self._path, self._part = path, 0
        self._buffer = io.BytesIO()

    def write(self, data: bytes) -> None:
        self._buffer.write(data)

    def flush(self) -> None:
        name = self._path if self._part == 0 else f"{self._path}.{self._part}"
        write_atomically(name, self._buffer.getvalue())
        if self._buffer.tell() > self.ROTATE_BYTES:
            self._part, self._buffer = self._part + 1, io.BytesIO()

    def close(self) -> None:
        self.flush()


class _RemoteEventFiles:
    def open(self, path: str) -> RemoteEventFile:
        return RemoteEventFile(path)

    def directory_check(self, path: str) -> None:
        """Object stores need no directories."""


for _scheme in REMOTE_SCHEMES:
    record_writer.register_writer_factory(_scheme.rstrip(":/"), _RemoteEventFiles())


class Reporter:
    def __init__(self, workdir: epath.PathLike):
        self.workdir = user_path(workdir)
        self.enabled = jax.process_index() == 0
        self._writer = SummaryWriter(str(self.workdir)) if self.enabled else None

    def scalars(self, step: int, values: dict[str, float]) -> None:
        if self.enabled:
            for name, value in values.items():
                self._writer.add_scalar(name, value, step)

    def samples(self, step: int, real: np.ndarray, generated: np.ndarray, tag: str) -> epath.Path:
        """real: uint8 [N, T, H, W, C]; generated: [N, K, T, H, W, C]. One row per example:
        the real video, then K in-betweens. Writes an animated GIF to TensorBoard and to
        workdir/<tag>.gif; returns that path."""
        path = self.workdir / f"{tag}.gif"
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
        return write_atomically(path, encoded)

    def json(self, name: str, values: dict) -> epath.Path:
        path = self.workdir / name
        if self.enabled:
            write_json(path, values)
        return path

    def close(self) -> None:
        if self.enabled:
            self._writer.close()
        logging.flush()
