"""The launch scripts' commands (--dry_run): right program, config, work directory and
multi-process flags; extra flags passed through; missing arguments refused."""

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from configs import base
from inbetweening.config import fields as config_fields

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = [".venv/bin/python", "-m", "inbetweening.main", "--config=configs/kth.py"]
OVERRIDE = "--config.model.compute_dtype=bfloat16"


def dry_run(script: str, *args: str, **env: str) -> list[str]:
    """The command `script` would run, as an argument list."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("PYTHON", "SLURM_SUBMIT_DIR", "SLURM_GPUS_ON_NODE", "GPUS_PER_NODE", "REPO_DIR")
    }
    result = subprocess.run(
        ["bash", os.path.join(REPO, "launch", script), "--dry_run", *args],
        env={**environment, **env},
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
    )
    return shlex.split(result.stdout)


def test_gpu_single_pins_one_gpu():
    assert dry_run(
        "gpu_single.sh", "--config=configs/kth.py", "--workdir=/runs/kth", "--gpu=3", OVERRIDE
    ) == ["env", "CUDA_VISIBLE_DEVICES=3", *TRAIN, "--workdir=/runs/kth", OVERRIDE]
    assert (
        dry_run("gpu_single.sh", "--config=configs/kth.py", "--workdir=/runs/kth")[1]
        == "CUDA_VISIBLE_DEVICES=0"
    )


def test_gpu_host_runs_one_process_over_every_gpu():
    assert dry_run(
        "gpu_host.sh", "--workdir=/runs/kth", "--config=configs/kth.py", OVERRIDE, PYTHON="python3"
    ) == ["python3", *TRAIN[1:], "--workdir=/runs/kth", OVERRIDE]


def test_slurm_runs_one_process_per_host_with_all_its_gpus():
    assert dry_run(
        "slurm_multi_host.sbatch",
        "--config=configs/kth.py",
        "--workdir=/shared/kth",
        "--heartbeat_timeout_seconds=60",
        SLURM_GPUS_ON_NODE="4",
    ) == [
        "srun",
        "--ntasks-per-node=1",
        *TRAIN,
        "--workdir=/shared/kth",
        "--distributed_from_env",
        "--local_device_ids=0,1,2,3",
        "--heartbeat_timeout_seconds=60",
    ]


def test_slurm_directives_ask_for_one_task_per_host():
    with open(os.path.join(REPO, "launch", "slurm_multi_host.sbatch")) as script:
        directives = [line.split()[1] for line in script if line.startswith("#SBATCH")]
    assert "--ntasks-per-node=1" in directives


def test_tpu_pod_runs_the_same_command_on_every_worker():
    command = dry_run(
        "tpu_pod.sh",
        "--tpu=my-pod",
        "--zone=us-central2-b",
        "--project=my-project",
        "--config=configs/kth.py",
        "--workdir=gs://bucket/kth",
        OVERRIDE,
    )
    assert command[:5] == ["gcloud", "compute", "tpus", "tpu-vm", "ssh"]
    assert command[5] == "my-pod"
    assert {"--zone=us-central2-b", "--project=my-project", "--worker=all"} <= set(command)
    (remote,) = [arg[len("--command=") :] for arg in command if arg.startswith("--command=")]
    change_dir, train = remote.split(" && ")
    assert change_dir == "cd inbetweening"
    assert shlex.split(train) == [
        *TRAIN,
        "--workdir=gs://bucket/kth",
        "--distributed_from_env",
        OVERRIDE,
    ]


def test_seeds_trains_and_evaluates_each_seed_then_aggregates():
    result = subprocess.run(
        [
            "bash",
            os.path.join(REPO, "launch", "seeds.sh"),
            "--dry_run",
            "--num_seeds=3",
            "--config=configs/kth.py",
            "--workdir=/runs/kth",
            OVERRIDE,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    commands = [shlex.split(line) for line in result.stdout.splitlines()]
    assert len(commands) == 7
    for seed in range(3):
        for offset, mode in enumerate(("train", "eval")):
            assert commands[2 * seed + offset] == [
                *TRAIN,
                f"--workdir=/runs/kth/seed_{seed}",
                f"--mode={mode}",
                f"--config.seed={seed}",
                OVERRIDE,
            ]
    assert commands[-1] == [
        TRAIN[0],
        "-m",
        "inbetweening.eval.aggregate",
        *[f"/runs/kth/seed_{seed}" for seed in range(3)],
        "--out=/runs/kth/aggregate",
    ]


@pytest.mark.parametrize("num_seeds", ["0", "ten"])
def test_seeds_refuses_a_bad_count(num_seeds):
    result = subprocess.run(
        [
            "bash",
            os.path.join(REPO, "launch", "seeds.sh"),
            "--dry_run",
            f"--num_seeds={num_seeds}",
            "--config=configs/kth.py",
            "--workdir=/runs/kth",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert f"--num_seeds={num_seeds}" in result.stderr


@pytest.mark.parametrize(
    "script, args",
    [
        ("gpu_single.sh", ["--config=configs/kth.py"]),
        ("gpu_host.sh", ["--workdir=/runs/kth"]),
        ("slurm_multi_host.sbatch", []),
        ("tpu_pod.sh", ["--config=configs/kth.py", "--workdir=gs://bucket/kth"]),
        ("seeds.sh", ["--config=configs/kth.py"]),
    ],
)
def test_missing_arguments_are_refused(script, args):
    result = subprocess.run(
        ["bash", os.path.join(REPO, "launch", script), "--dry_run", *args],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--" in result.stderr


def test_device_check_runs_the_device_tests_the_benchmarks_and_a_timed_demo(tmp_path):
    result = subprocess.run(
        ["bash", os.path.join(REPO, "launch", "device_check.sh"), "--dry_run", "--out=/out"],
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line.rsplit(" > ", 1) for line in result.stdout.splitlines()]
    assert [out for _, out in lines] == [
        "/out/tests.txt",
        "/out/train_step_float32.json",
        "/out/train_step_bfloat16.json",
        "/out/host_time.json",
        "/out/host_time_4_per_call.json",
        "/out/full_split_eval.json",
        "/out/demo.txt",
        "/out/curves.txt",
        "/out/device_check.json",
    ]
    tests, float32, bfloat16, host_time, host_time_4, full_split, demo, curves, summary = (
        shlex.split(c) for c, _ in lines
    )
    # The suite's CPU simulation is switched off so that jax takes the accelerator.
    assert tests[:3] == ["env", "JAX_PLATFORMS=", "XLA_FLAGS="] and "pytest" in tests
    for command, dtype in ((float32, "float32"), (bfloat16, "bfloat16")):
        assert "benchmarks/train_step.py" in command and "--config=configs/bair.py" in command
        assert {"--config.batch_size=32", "--config.model.conv_impl=xla"} <= set(command)
        assert f"--config.model.compute_dtype={dtype}" in command
    # The benchmarks at full size: the paper's batch; UCF101's test split, the paper's
    # generator and FVD.
    assert "benchmarks/host_time.py" in host_time and "--steps=300" in host_time
    assert host_time_4[3] == "benchmarks/host_time.py"
    assert {"--inputs=none", "--config.steps_per_call=4"} <= set(host_time_4)
    assert "benchmarks/full_split_eval.py" in full_split
    assert {"--num_clips=3783", "--num_generations=4", "--width=0", "--fvd"} <= set(full_split)
    assert "--scaling_devices=1,2,4,8" in full_split
    for command in (host_time, host_time_4, full_split):
        assert command[:2] == ["env", "PYTHONPATH=."]
        # Every flag passed is one the benchmark defines (a misspelt one stops the run),
        # or a field of its config.
        with open(os.path.join(REPO, command[3])) as handle:
            defined = set(re.findall(r'flags\.DEFINE_\w+\(\s*"(\w+)"', handle.read()))
        passed = {arg[2:].split("=")[0] for arg in command[4:]}
        fields = {flag[len("config.") :] for flag in passed if flag.startswith("config.")}
        assert passed and passed - {f"config.{field}" for field in fields} <= defined
        assert fields <= set(config_fields.flatten(base.get_config())), fields
    assert demo[:2] == ["timeout", "120"] and "--config=configs/demo.py" in demo
    assert {"--workdir=/out/demo", "--config.sample_every_steps=1000"} <= set(demo)
    assert curves[-2:] == ["/out/demo", "--out=/out/curve.png"]
    assert summary[-2:] == ["launch/device_check_summary.py", "/out"]
    assert not os.path.exists("/out")


def test_device_check_summary_gathers_what_was_written(tmp_path):
    (tmp_path / "demo").mkdir()
    (tmp_path / "tests.txt").write_text("....\n12 passed in 30.0s\n")
    (tmp_path / "train_step_float32.json").write_text('{"steps_per_second": 3.5}\n')
    (tmp_path / "train_step_bfloat16.json").write_text("Traceback ...\nerror\n")
    (tmp_path / "host_time.json").write_text('{"inputs": {"none": {"loop_ms_per_step": 0.5}}}')
    (tmp_path / "host_time_4_per_call.json").write_text('{"steps_per_call": 4}')
    (tmp_path / "full_split_eval.json").write_text('{"num_clips": 3783, "peak_rss_mb": 2100.0}')
    (tmp_path / "demo" / "metrics.json").write_text('{"held_out_curve": [{"step": 1000}]}')
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "launch", "device_check_summary.py"), tmp_path],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == {
        "tests": "12 passed in 30.0s",
        "train_step_float32": {"steps_per_second": 3.5},
        "train_step_bfloat16": "Traceback ...\nerror",
        "host_time": {"inputs": {"none": {"loop_ms_per_step": 0.5}}},
        "host_time_4_per_call": {"steps_per_call": 4},
        "full_split_eval": {"num_clips": 3783, "peak_rss_mb": 2100.0},
        "demo_held_out_curve": [{"step": 1000}],
    }
