"""Multi-process start-up: one JAX process per host (or per group of devices), all joined
into one global device mesh by jax.distributed.

Three ways, chosen by the flags of main.py:
- explicit: --coordinator_address=HOST:PORT --num_processes=N --process_id=I on every
  process (any cluster, or several processes on one machine);
- --distributed_from_env: jax.distributed.initialize() finds everything itself under
  SLURM, Open MPI and on Cloud TPU VMs;
- neither: a single process, nothing to initialise.

A process that dies or stops answering is noticed by the coordination service within
--heartbeat_timeout_seconds; JAX then terminates every other process with an error that
names the missing task, so a job never hangs in a collective waiting for it.
"""

import jax
from absl import flags, logging

EXPLICIT_FLAGS = ("coordinator_address", "num_processes", "process_id")


def define_flags() -> None:
    """The flags `initialize` reads; main.py defines them (a program's flags, not a
    library's)."""
    flags.DEFINE_string(
        "coordinator_address",
        None,
        "HOST:PORT of process 0's coordination service (multi-process).",
    )
    flags.DEFINE_integer("num_processes", None, "Number of processes (multi-process).")
    flags.DEFINE_integer("process_id", None, "This process's index, 0..num_processes-1.")
    flags.DEFINE_bool(
        "distributed_from_env",
        False,
        "Join a multi-process job described by the environment (SLURM, Open "
        "MPI, Cloud TPU VM), detected by jax.distributed.initialize().",
    )
    flags.DEFINE_list(
        "local_device_ids",
        None,
        "Devices of this host that this process uses (default: JAX's choice, "
        "which under SLURM or Open MPI on GPUs is one device per process).",
    )
    flags.DEFINE_integer(
        "heartbeat_timeout_seconds",
        100,
        "A process silent this long counts as dead and stops the job.",
    )
    flags.DEFINE_integer(
        "shutdown_timeout_seconds", 300, "How long a finished process waits for the others at exit."
    )
    flags.DEFINE_integer(
        "initialization_timeout_seconds", 300, "How long processes wait for each other at start-up."
    )


class DistributedFlagsError(ValueError):
    """Multi-process flags that cannot describe a job."""


def initialize(flag_values) -> None:
    """Joins the multi-process job the flags describe, or does nothing for one process.

    Must run before any other JAX call: the device list is fixed by the first one.
    flag_values: absl FLAGS (or any object with the attributes of `define_flags`).
    """
    given = [name for name in EXPLICIT_FLAGS if getattr(flag_values, name) is not None]
    if given and len(given) < len(EXPLICIT_FLAGS):
        missing = sorted(set(EXPLICIT_FLAGS) - set(given))
        raise DistributedFlagsError(
            f"--{' --'.join(given)} given without --{' --'.join(missing)}: a multi-process "
            "job needs all three (or --distributed_from_env)"
        )
    if given and flag_values.distributed_from_env:
        raise DistributedFlagsError(
            "--distributed_from_env and --coordinator_address/--num_processes/--process_id "
            "both given: choose one"
        )
    if not given and not flag_values.distributed_from_env:
        return
    local_device_ids = flag_values.local_device_ids
    jax.distributed.initialize(
        coordinator_address=flag_values.coordinator_address,
        num_processes=flag_values.num_processes,
        process_id=flag_values.process_id,
        local_device_ids=[int(i) for i in local_device_ids] if local_device_ids else None,
        initialization_timeout=flag_values.initialization_timeout_seconds,
        heartbeat_timeout_seconds=flag_values.heartbeat_timeout_seconds,
        shutdown_timeout_seconds=flag_values.shutdown_timeout_seconds,
    )
    logging.info(
        "Process %d of %d; %d local of %d devices",
        jax.process_index(),
        jax.process_count(),
        jax.local_device_count(),
        jax.device_count(),
    )
