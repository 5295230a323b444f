"""XLA flags for every test process: compilation dominates the suite's time, and XLA:CPU's
lowest backend optimisation level compiles the tiny train step ~30% faster (25.8 s against
37.8 s, measured 2026-11-26) while the programs compute the same functions; programs that
run long (the 224x224 I3D) run slower, so test_eval_mode's subprocess keeps the default.
Imported before jax by tests/conftest.py, and added by the tests that start processes of
their own. Whole suite, cold caches: 14 min 13 s without, 12 min 54 s with."""

FAST_COMPILE = "--xla_backend_optimization_level=0"


def with_devices(count: int) -> str:
    """XLA_FLAGS for a test process with `count` simulated CPU devices."""
    return f"--xla_force_host_platform_device_count={count} {FAST_COMPILE}"
