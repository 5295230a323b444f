"""XLA flags for every test process: compilation dominates the suite's time. XLA:CPU's
lowest backend optimisation level with its older (non-MLIR) fusion emitters compiles the
tiny train step in 10.8 s, against 22.8 s at that level with the default emitters and 30.9 s
with the older emitters at the default level (the fsdp-2 step on 4 devices: 17.4 s against
34.2 s; measured 2026-12-02, docs/experiments.md). The programs compute the same functions
(the step's losses agree to float rounding) but run slower: 3 tiny steps take 1.71 s,
against 1.44 s with the default emitters and 0.47 s at the default level. Programs that run
long (the 224x224 I3D) lose more than they gain, so test_remote_storage's --mode=eval keeps
the default. XLA:CPU's codegen in one piece (--xla_cpu_parallel_codegen_split_count=1): split,
it compiles the parts on threads the other test worker needs, and the tiny step's compilation
took 13.1 s of CPU against 11.4 s in one piece (means of 3, 2026-12-02). Imported before jax
by tests/conftest.py, and added by the tests that start processes of their own."""

FAST_COMPILE = (
    "--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
    " --xla_cpu_parallel_codegen_split_count=1"
)


def with_devices(count: int) -> str:
    """XLA_FLAGS for a test process with `count` simulated CPU devices."""
    return f"--xla_force_host_platform_device_count={count} {FAST_COMPILE}"
