"""Running the package's command lines from tests (a helper, not a test)."""

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_module(module: str, *args, env: dict | None = None, timeout: float = 300):
    """`python -m module args...` from the repository root -> the CompletedProcess (text
    output captured); `env` adds to this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": REPO, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
