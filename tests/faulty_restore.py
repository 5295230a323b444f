"""python tests/faulty_restore.py ARGS...: `python -m inbetweening.main ARGS...` in which
every read of a checkpoint step fails with a permission error (EACCES), as a file system
that lost its mount's permissions or credentials answers; the pauses between retries are
shortened so that the test takes seconds."""

import errno
import os
import sys

import orbax.checkpoint as ocp

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from inbetweening import main  # noqa: E402
from inbetweening.training import checkpoints  # noqa: E402


def refuse(self, step, *args, **kwargs):
    raise PermissionError(errno.EACCES, "Permission denied", str(self.directory / str(step)))


if __name__ == "__main__":
    ocp.CheckpointManager.restore = refuse
    checkpoints.RETRY_PAUSES = (0.01, 0.01, 0.01)
    sys.argv[0] = "inbetweening.main"
    main.cli()
