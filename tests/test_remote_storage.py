"""End to end on gs://, against a Cloud Storage emulator on 127.0.0.1 (tests/storage_emulator.py):
a tiny run trained into gs://bkt/run, killed with SIGKILL, its latest step damaged, and
resumed: the damaged step moved aside, the run goes on from the step before to the
parameters of an uninterrupted run, with the validation FVD at its last checkpoint (which
checkpoint the FVD selects: tests/test_checkpoint.py); --mode=eval reading its model's
config from the checkpoint, aggregate, sampling and export, all from and to gs://; nothing
is written under the commands' working directory."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

# gcsfs asks Cloud Storage's control plane (gRPC) whether a bucket is hierarchical, which
# the emulator does not serve: each ask would wait a minute for its timeout.
os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"

import gcsfs  # noqa: E402
import numpy as np
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from inbetweening.training.checkpoints import TrainingCheckpoints, flatten_with_names  # noqa: E402

from checkpoint_damage import corrupt_array_data  # noqa: E402
from command_lines import (  # noqa: E402
    compilation_cache_flag,
    compiled_once,
    free_port,
    tiny_training_command,
    training_environment,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUCKET = "bkt"
# tests/command_lines.py's training run (its programs compiled once for the session), with
# validation and test splits of 2 videos, the fewest the FVD takes: every video is one more
# I3D at 224x224 (~2 s of CPU here), 4 in the resumed run's one validation FVD and 12 in
# --mode=eval.
TRAINING = [
    "--config.data.num_eval_videos=2",
    "--config.checkpoint_every_steps=2",
    "--config.sample_every_steps=4",
]
# --mode=eval's own settings: the model and data come from the checkpoint.
EVAL = [
    f"--config={os.path.join(REPO, 'configs', 'demo.py')}",
    "--config.eval.num_generations=2",
    "--config.eval.num_bootstrap_resamples=50",
    compilation_cache_flag(),
]


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    """The emulator, the environment that points every library at it, an empty working
    directory for the commands, and a client for the test's own look at the bucket."""
    root = tmp_path_factory.mktemp("remote")
    port = free_port()
    log = open(root / "emulator.log", "w")
    emulator = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "tests", "storage_emulator.py"), str(port), BUCKET],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    env = {
        **training_environment(),
        # etils.epath through fsspec's gcsfs (TensorFlow's GCS client has a fixed endpoint).
        "EPATH_USE_TF": "false",
        "STORAGE_EMULATOR_HOST": url,
        # tensorstore: orbax's array storage.
        "TENSORSTORE_GCS_HTTP_URL": url,
        "GOOGLE_AUTH_TOKEN_FOR_TESTING": "x",
    }
    cwd = root / "cwd"
    cwd.mkdir()
    yield {
        "env": env,
        "cwd": cwd,
        "fs": gcsfs.GCSFileSystem(endpoint_url=url, token="anon"),
    }
    emulator.kill()
    log.close()
    assert not list(cwd.rglob("*")), "a command wrote under its working directory"


def _train(storage, workdir, *flags, wait=True):
    """tiny_training_command into `workdir`, with TRAINING and `flags`."""
    command = tiny_training_command(workdir, *TRAINING, *flags)
    return _run(storage, command[2], *command[3:], wait=wait)


def _run(storage, module, *args, timeout=600, wait=True):
    command = [sys.executable, "-m", module, *args]
    env = storage["env"]
    if "--mode=eval" in args:
        # XLA's default optimisation: the 224x224 I3D runs ~40% faster than at the fast
        # compilation level, and --mode=eval compiles little else.
        env = {name: value for name, value in env.items() if name != "XLA_FLAGS"}
    if not wait:
        return subprocess.Popen(
            command,
            cwd=storage["cwd"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return subprocess.run(
        command,
        cwd=storage["cwd"],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _state_arrays(storage, workdir, step, out) -> dict[str, np.ndarray]:
    """{array path: value} of a run's step, read back from gs:// by the package in a
    process that the emulator's environment points at it."""
    code = (
        "import numpy as np\n"
        "from inbetweening.training.checkpoints import TrainingCheckpoints, flatten_with_names\n"
        f"checkpoints = TrainingCheckpoints({workdir!r}, keep=1, read_only=True)\n"
        f"np.savez({str(out)!r}, **flatten_with_names(checkpoints.restore_raw({step})[0]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=storage["cwd"],
        env=storage["env"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(out) as arrays:
        return dict(arrays)


@pytest.fixture(scope="module")
def trained(storage):
    """gs://bkt/run: a run of 6 steps killed with SIGKILL once its checkpoint at step 4 is
    complete; step 4 then damaged (as a bad copy does it), and the run resumed for 4 steps:
    step 4 moved aside, steps 3 and 4 taken again from step 2, with the validation FVD at 4."""
    workdir, fs = f"gs://{BUCKET}/run", storage["fs"]
    checkpoints = f"{BUCKET}/run/checkpoints"
    with compiled_once():
        process = _train(storage, workdir, "--config.num_train_steps=6", wait=False)
        while not fs.exists(f"{checkpoints}/4/commit_success.txt"):
            assert process.poll() is None, "training ended before it could be killed"
            time.sleep(0.02)
            fs.invalidate_cache()
        process.send_signal(signal.SIGKILL)
        process.wait()
    fs.invalidate_cache()
    assert not fs.exists(f"{checkpoints}/6"), "killed too late to test a resume"
    corrupt_array_data(f"{checkpoints}/4", fs)
    resumed = _train(
        storage, workdir, "--config.num_train_steps=4", "--config.eval.validation_fvd=True"
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Traceback" not in resumed.stderr
    warning = [line for line in resumed.stderr.splitlines() if "cannot be restored" in line]
    assert len(warning) == 1 and f"{workdir}/checkpoints/4.corrupt" in warning[0], warning
    assert f"Resuming from {workdir}/checkpoints/2" in resumed.stderr, resumed.stderr[-3000:]
    assert "validation FVD" in resumed.stderr
    fs.invalidate_cache()
    assert fs.exists(f"{checkpoints}/4.corrupt/state")
    assert fs.exists(f"{checkpoints}/4") and fs.exists(f"{BUCKET}/run/metrics.json")
    assert fs.exists(f"{BUCKET}/run/samples.gif")
    assert any("tfevents" in name for name in fs.ls(f"{BUCKET}/run"))
    return workdir


def test_a_killed_run_resumes_on_gs_to_the_parameters_of_an_unbroken_one(
    storage, trained, tiny_run, tmp_path
):
    """The unbroken run is the session's local one (tests/conftest.py `tiny_run`): the same
    config but for its length, its evaluations and where it writes, none of which changes
    a step. Bit for bit."""
    resumed = _state_arrays(storage, trained, 4, tmp_path / "resumed.npz")
    unbroken = TrainingCheckpoints(str(tiny_run.workdir), keep=3, read_only=True)
    expected = flatten_with_names(unbroken.restore_raw(4)[0])
    assert resumed.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)


def test_eval_takes_its_model_from_the_checkpoint_and_aggregate_reads_it(storage, trained):
    # The command line's config is the demo's (32x32): the checkpoint's (16x16) wins.
    evaluated = _run(storage, "inbetweening.main", f"--workdir={trained}", "--mode=eval", *EVAL)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    fs = storage["fs"]
    raw = json.loads(fs.cat(f"{BUCKET}/run/eval/raw.json"))
    assert raw["config"]["model.image_size"] == 16 and raw["config"]["eval.num_generations"] == 2
    results = json.loads(fs.cat(f"{BUCKET}/run/eval/results.json"))["results"]
    assert set(results) == {
        "model (full)",
        "cross-fade",
        "repeat start, then end",
        "optical-flow interpolation",
    }
    model = results["model (full)"]
    assert model["num_videos"] == 2 and model["num_generations"] == 2
    for metrics in results.values():
        for name in ("fvd", "diversity", "ssim"):
            assert metrics[name]["low"] <= metrics[name]["mean"] <= metrics[name]["high"]
    assert "| model (full) |" in fs.cat(f"{BUCKET}/run/eval/results.md").decode()

    # One run aggregated: the same numbers, written to gs:// too.
    out = f"gs://{BUCKET}/tables/whole"
    aggregated = _run(
        storage, "inbetweening.eval.aggregate", trained, f"--out={out}", "--num_resamples=50"
    )
    assert aggregated.returncode == 0, aggregated.stderr[-3000:]
    combined = json.loads(fs.cat(f"{BUCKET}/tables/whole.json"))
    for method, metrics in results.items():
        for name in ("fvd", "diversity", "ssim"):
            assert combined["tables"][method][name]["mean"] == pytest.approx(metrics[name]["mean"])

    # An override that contradicts the checkpoint stops before anything is evaluated.
    refused = _run(
        storage,
        "inbetweening.main",
        f"--workdir={trained}",
        "--mode=eval",
        *EVAL,
        "--config.model.image_size=32",
    )
    assert refused.returncode == 2, refused.stderr[-3000:]
    last = refused.stderr.strip().splitlines()[-1]
    assert last.startswith("error: --config.model.image_size=32 contradicts the checkpoint")


def test_sample_and_export_read_and_write_gs(storage, trained):
    fs = storage["fs"]
    frame = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    png = storage["cwd"].parent / "key.png"
    Image.fromarray(frame).save(png)
    fs.put(str(png), f"{BUCKET}/key.png")
    key = f"gs://{BUCKET}/key.png"
    exported = f"gs://{BUCKET}/exported"
    result = _run(
        storage, "inbetweening.export", f"--model={trained}", "--format=params", f"--out={exported}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for model in (trained, exported):
        out = f"gs://{BUCKET}/samples/{model.rsplit('/', 1)[-1]}.gif"
        result = _run(
            storage,
            "inbetweening.sample",
            f"--model={model}",
            f"--start={key}",
            f"--end={key}",
            "--num_samples=2",
            f"--out={out}",
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert fs.cat(out[len("gs://") :])[:6] in (b"GIF87a", b"GIF89a")


def test_a_bucket_that_does_not_exist_stops_at_start_up(storage):
    result = _train(storage, "gs://no-such-bucket/run")
    assert result.returncode == 2, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: --workdir=gs://no-such-bucket/run: cannot write there"), last
