"""Data-parallel scaling over 1 to 8 simulated CPU devices: prints one JSON object.

    python benchmarks/scaling.py --config=configs/demo.py [--per_device_batch=2]

Runs benchmarks/train_step.py once per device count, in its own process (the count is
fixed when JAX starts), with the global batch growing with the devices. What should stay
flat: compile time, and each device's FLOPs and memory in the partitioned step. Simulated
devices share this machine's cores, so the step time grows with the count here; on real
devices it is the number to watch.
"""

import json
import os
import subprocess
import sys

from absl import app, flags

flags.DEFINE_string("config", None, "Config file, passed on to train_step.py.")
flags.DEFINE_integer("per_device_batch", 2, "Videos per device.")
flags.DEFINE_list("devices", ["1", "2", "4", "8"], "Device counts.")
FLAGS = flags.FLAGS
KEPT = (
    "num_devices",
    "batch_size",
    "compile_seconds",
    "seconds_per_step",
    "xla_gflop_per_device",
    "peak_bytes_per_device",
)


def run(num_devices: int) -> dict:
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={num_devices}",
    }
    command = [
        sys.executable,
        os.path.join(os.path.dirname(__file__), "train_step.py"),
        f"--config={FLAGS.config}",
        f"--config.batch_size={FLAGS.per_device_batch * num_devices}",
        "--repeats=2",
        "--noreference_rates",
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(
            f"train_step.py with {num_devices} devices failed:\n{result.stderr[-2000:]}"
        )
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    return {key: measured[key] for key in KEPT}


def main(_):
    print(
        json.dumps(
            {
                "benchmark": "scaling",
                "config": FLAGS.config,
                "per_device_batch": FLAGS.per_device_batch,
                "runs": [run(int(count)) for count in FLAGS.devices],
            }
        )
    )


if __name__ == "__main__":
    flags.mark_flags_as_required(["config"])
    app.run(main)
