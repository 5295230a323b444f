"""The package as users install it: a wheel built from the repository's files, installed
into a fresh virtual environment, runs its console scripts from outside the repository.

The fresh environment sees the lock's packages (a .pth file naming this environment's
site-packages) instead of downloading them again; the package itself comes only from
the wheel."""

import email
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import numpy as np
import pytest
from packaging.requirements import Requirement
from PIL import Image

from command_lines import training_environment

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = (
    "inbetweening",
    "inbetweening-prepare",
    "inbetweening-sample",
    "inbetweening-export",
    "inbetweening-fvd",
    "inbetweening-classify",
    "inbetweening-aggregate",
    "inbetweening-diagnose",
    "inbetweening-probe",
    "inbetweening-curves",
)


def _run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-3000:])
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """Built from the files a clone has (tracked, or new and not ignored), outside the
    repository so that nothing is written into it."""
    source = tmp_path_factory.mktemp("clone")
    files = _run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO
    ).stdout.split("\0")
    for name in filter(None, files):
        if os.path.isfile(os.path.join(REPO, name)):
            os.makedirs(source / os.path.dirname(name), exist_ok=True)
            shutil.copy2(os.path.join(REPO, name), source / name)
    out = tmp_path_factory.mktemp("wheel")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(source),
        ]
    )
    (built,) = out.glob("inbetweening-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """The bin/ directory of a fresh virtual environment with the wheel installed."""
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    site_packages = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    with open(os.path.join(site_packages, "lock_packages.pth"), "w") as pth:
        pth.write(sysconfig.get_paths()["purelib"] + "\n")
    _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)])
    return venv / "bin"


def _clean_env():
    """tests/command_lines.py's training environment (one CPU device, the tests' XLA flags)
    without PYTHONPATH, so that the package can only come from the wheel."""
    return {k: v for k, v in training_environment().items() if k != "PYTHONPATH"}


def test_the_wheel_declares_ranges_the_lock_satisfies_and_its_data(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(archive.read(metadata_name))
        entry_points = archive.read(metadata_name.replace("METADATA", "entry_points.txt"))
    assert "inbetweening/eval/kinetics400_labels.txt" in names
    assert not any(n.startswith(("tests/", "configs/")) for n in names)
    lock = {}
    with open(os.path.join(REPO, "requirements.txt")) as handle:
        for line in handle:
            if "==" in line and not line.startswith("#"):
                name, version = line.strip().split("==")
                lock[name.lower().replace("_", "-")] = version
    requirements = [Requirement(r) for r in metadata.get_all("Requires-Dist")]
    core = [r for r in requirements if r.marker is None]
    assert {r.name.lower() for r in core} >= {
        "jax",
        "flax",
        "optax",
        "orbax-checkpoint",
        "ml-collections",
        "chex",
        "tensorboard",
    }
    for requirement in requirements:
        extra = str(requirement.marker or "")
        if "cuda12" in extra or "tpu" in extra:
            continue
        version = lock[requirement.name.lower().replace("_", "-")]
        assert requirement.specifier.contains(version), (str(requirement), version)
    assert set(metadata.get_all("Provides-Extra")) == {"cuda12", "tpu", "data", "test"}
    for script in SCRIPTS:
        assert f"{script} = ".encode() in entry_points, script


def test_installed_scripts_run_outside_the_repository(installed, tiny_workdir, tmp_path):
    env = _clean_env()
    workdir = tmp_path / "summary"
    _run(
        [
            str(installed / "inbetweening"),
            f"--config={REPO}/configs/kth.py",
            f"--workdir={workdir}",
            "--mode=summary",
        ],
        cwd=tmp_path,
        env=env,
    )
    written = json.loads((workdir / "summary.json").read_text())
    assert written["train_step_flops"] > 0 and written["generator"]["kernel_params"] > 0

    frames = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    for name, frame in zip(("start", "end"), frames):
        Image.fromarray(frame).save(tmp_path / f"{name}.png")
    _run(
        [
            str(installed / "inbetweening-sample"),
            f"--model={tiny_workdir}",
            f"--start={tmp_path / 'start.png'}",
            f"--end={tmp_path / 'end.png'}",
            "--num_samples=2",
            f"--out={tmp_path / 'out.gif'}",
        ],
        cwd=tmp_path,
        env=env,
    )
    with Image.open(tmp_path / "out.gif") as gif:
        assert gif.n_frames == 16
    # The package came from the wheel, not from the repository.
    where = _run(
        [str(installed / "python"), "-c", "import inbetweening; print(inbetweening.__file__)"],
        cwd=tmp_path,
        env=env,
    ).stdout
    assert not where.startswith(REPO) and "site-packages" in where
