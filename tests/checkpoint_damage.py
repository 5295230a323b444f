"""Damage done to a checkpoint step as a bad disk or copy does it (a helper, not a test)."""

import pathlib

import fsspec


def corrupt_array_data(step_dir, fs: fsspec.AbstractFileSystem | None = None) -> None:
    """Flips bytes in the middle of every data file of a step: `step_dir` on the local disk,
    or a path of `fs` (gcsfs's for a step on gs://, without the gs:// prefix)."""
    fs = fs or fsspec.filesystem("file")
    files = [path for path in fs.find(f"{step_dir}/state") if path.rsplit("/", 2)[-2] == "d"]
    assert files
    for path in files:
        data = bytearray(fs.cat_file(path))
        for i in range(len(data) // 2, min(len(data), len(data) // 2 + 64)):
            data[i] ^= 0xFF
        fs.pipe_file(path, bytes(data))


def truncate_sharding(step_dir: pathlib.Path) -> None:
    """Cuts the step's array-layout file short."""
    with open(step_dir / "state" / "_sharding", "r+b") as handle:
        handle.truncate(20)
