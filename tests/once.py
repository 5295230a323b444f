"""Test artefacts that cost a training run to make, made once per test session and shared
by its pytest-xdist workers (a helper, not a test)."""

import fcntl
import os
import pathlib
from typing import Callable


def made_once(tmp_path_factory, name: str, make: Callable[[pathlib.Path], None]) -> pathlib.Path:
    """The directory `name` that make(directory) filled, made by the first worker of the
    session to ask for it while the others wait for it. Under pytest-xdist the workers'
    temporary directories share a parent, which is the session's own; without xdist the
    session's temporary directory holds it. Tests must not change what it holds: copy it
    first. If make raises, the next worker to ask makes it again (and fails the same way)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    directory, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            directory.mkdir(exist_ok=True)
            make(directory)
            done.touch()
    return directory
