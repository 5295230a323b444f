"""Damage done to a checkpoint step as a bad disk or copy does it (a helper, not a test)."""

import pathlib


def corrupt_array_data(step_dir: pathlib.Path) -> None:
    """Flips bytes in the middle of every data file of a step."""
    files = [p for p in (step_dir / "state").rglob("*") if p.is_file() and p.parent.name == "d"]
    assert files
    for path in files:
        data = bytearray(path.read_bytes())
        for i in range(len(data) // 2, min(len(data), len(data) // 2 + 64)):
            data[i] ^= 0xFF
        path.write_bytes(bytes(data))


def truncate_sharding(step_dir: pathlib.Path) -> None:
    """Cuts the step's array-layout file short."""
    with open(step_dir / "state" / "_sharding", "r+b") as handle:
        handle.truncate(20)
