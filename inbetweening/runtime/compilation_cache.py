"""JAX's persistent compilation cache: compiled programs are kept on disk, so a second run
of the same config skips most of its start-up compilation."""

import os

import jax
from absl import flags, logging


def default_directory() -> str:
    """$XDG_CACHE_HOME/inbetweening/jax, else ~/.cache/inbetweening/jax."""
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache_home, "inbetweening", "jax")


def define_flags() -> None:
    flags.DEFINE_string(
        "compilation_cache_dir",
        default_directory(),
        "Where JAX keeps compiled programs between runs (local path or "
        "gs://); empty: no persistent cache.",
    )


def enable(directory: str) -> None:
    """Turns the persistent cache on at `directory`; programs that compile in under a
    second are not worth a disk entry (JAX's default threshold).

    Not for several processes on the CPU backend (a test and simulation setup): there
    XLA:CPU (jax 0.10.2) deadlocks in the cross-process collectives of a train step loaded
    from the cache, every time, while the same step freshly compiled runs (WORKSPACE.md,
    Decisions). Call after distributed.initialize."""
    if jax.process_count() > 1 and jax.default_backend() == "cpu":
        # Off even when JAX_COMPILATION_CACHE_DIR would turn it on.
        jax.config.update("jax_enable_compilation_cache", False)
        logging.info("No persistent compilation cache: several processes on CPU")
        return
    if not directory:
        return
    jax.config.update("jax_compilation_cache_dir", directory)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    logging.info("Persistent compilation cache: %s", directory)
