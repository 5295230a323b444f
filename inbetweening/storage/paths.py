"""The one path layer for every file under a user's path (--workdir, --data_dir, --out,
--model): etils.epath, as orbax uses, so that the same code reads and writes a local disk
or gs://. `os.path` and `open()` are only for the package's own files."""

import json
import os
import uuid

from etils import epath

REMOTE_SCHEMES = ("gs://", "s3://")


def is_remote(path: epath.PathLike) -> bool:
    return os.fspath(path).startswith(REMOTE_SCHEMES)


def user_path(path: epath.PathLike) -> epath.Path:
    """A path a user gave: remote paths as they are; local ones with "~" expanded and made
    absolute, so that every process and thread means the same file."""
    if is_remote(path):
        return epath.Path(os.fspath(path))
    return epath.Path(os.path.abspath(os.path.expanduser(os.fspath(path))))


def write_atomically(path: epath.PathLike, data: bytes) -> epath.Path:
    """Writes `data` so that a reader never sees half of it: locally a temporary file
    beside `path`, then a rename; remotely one upload (an object appears whole)."""
    path = user_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_remote(path):
        path.write_bytes(data)
        return path
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    temporary.write_bytes(data)
    temporary.replace(path)
    return path


def write_json(path: epath.PathLike, values) -> epath.Path:
    return write_atomically(path, (json.dumps(values, indent=2) + "\n").encode())


def read_json(path: epath.PathLike):
    """The JSON at `path`. Raises FileNotFoundError, json.JSONDecodeError, OSError."""
    return json.loads(user_path(path).read_text())
