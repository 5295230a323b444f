"""Running the package's command lines from tests (a helper, not a test)."""

import contextlib
import fcntl
import os
import socket
import subprocess
import sys

import tiny_setup
import xla_test_flags

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


def tiny_model_flags() -> list[str]:
    """--config.model.FIELD=VALUE for each of tiny_setup's widths."""
    return [
        f"--config.model.{name}={','.join(map(str, v)) if isinstance(v, tuple) else v}"
        for name, v in tiny_setup.TINY_MODEL.items()
    ]


def tiny_training_command(workdir, *flags) -> list[str]:
    """`python -m inbetweening.main` on configs/demo.py at tiny_setup's widths, batch 4,
    with small held-out evaluations and no reference model (the shipped one makes other
    frames: loading it only to leave it out costs a run a second); `flags` come last and
    win. Every test that trains through the command line starts from this one, so that
    its programs are the same and the session's compilation cache (tests/conftest.py)
    compiles them once. The sample grid (2 videos, 2 in-betweens each) generates in calls
    of the held-out metric's shape (2 pairs of its 3 videos, 2 draws each): one sampler
    program a run instead of two (~1.4 s of each run's first sample step here)."""
    return [
        sys.executable,
        "-m",
        "inbetweening.main",
        f"--config={os.path.join(REPO, 'configs', 'demo.py')}",
        f"--workdir={workdir}",
        *tiny_model_flags(),
        "--config.batch_size=4",
        "--config.num_sample_videos=2",
        "--config.num_samples_per_video=2",
        "--config.eval.quality_videos=3",
        "--config.eval.quality_samples=2",
        "--config.eval.reference_models=()",
        "--config.log_every_steps=1",
        compilation_cache_flag(),
        *map(str, flags),
    ]


def checkpointed_training_command(workdir, *flags) -> list[str]:
    """tiny_training_command for 8 steps with checkpoints every 2 (4, 6 and 8 kept) and no
    sampling before the end: the session's shared run (tests/conftest.py `tiny_run`) and
    the runs that resume its damaged copies."""
    return tiny_training_command(
        workdir,
        "--config.num_train_steps=8",
        "--config.checkpoint_every_steps=2",
        "--config.sample_every_steps=1000",
        *flags,
    )


def compilation_cache_flag() -> str:
    """The session's compilation cache (tests/conftest.py) for a command of the package."""
    return f"--compilation_cache_dir={os.environ.get('JAX_COMPILATION_CACHE_DIR', '')}"


def training_environment() -> dict:
    """The environment of tiny_training_command: one CPU device (sharding has tests of its
    own) and the tests' fast-compiling XLA flags."""
    return {
        **os.environ,
        "PYTHONPATH": REPO,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": xla_test_flags.FAST_COMPILE,
    }


@contextlib.contextmanager
def compiled_once():
    """Around a tiny training run that starts a test file: the session's first one compiles
    the training programs alone, and the others wait for it, then load them from the
    session's compilation cache (tests/conftest.py) rather than compile them again at the
    same time in another worker. A waiting worker leaves its core to the others."""
    cache = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if not cache:
        yield
        return
    os.makedirs(cache, exist_ok=True)
    compiled = os.path.join(cache, "tiny-training-compiled")
    with open(compiled + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(compiled):  # compiled already: run beside the others
            fcntl.flock(lock, fcntl.LOCK_UN)
        try:
            yield
        finally:
            open(compiled, "w").close()


def run_training(command: list[str]) -> subprocess.CompletedProcess:
    """A training command line in training_environment(), from the repository root, its
    output captured."""
    return subprocess.run(
        command, cwd=REPO, env=training_environment(), capture_output=True, text=True, timeout=300
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_two_processes(command: list[str], env: dict) -> list[subprocess.Popen]:
    """`command` + the flags that join two processes into one job over loopback, started
    from the repository root in `env`; each one's output (stderr into stdout) in a pipe."""
    address = f"127.0.0.1:{free_port()}"
    return [
        subprocess.Popen(
            [
                *command,
                f"--coordinator_address={address}",
                "--num_processes=2",
                f"--process_id={i}",
            ],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
