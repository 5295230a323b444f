"""launch/device_check.sh's last step: one JSON object of what the check wrote in DIR.

python launch/device_check_summary.py DIR
"""

import json
import os
import sys


def read(directory: str, name: str):
    """The file's JSON (None when missing), or its text when it is not JSON (a failed
    benchmark leaves its error there)."""
    path = os.path.join(directory, name)
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        text = handle.read().strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def summary(directory: str) -> dict:
    tests = read(directory, "tests.txt")
    metrics = read(directory, "demo/metrics.json")
    return {
        "tests": tests.splitlines()[-1] if isinstance(tests, str) and tests else tests,
        "train_step_float32": read(directory, "train_step_float32.json"),
        "train_step_bfloat16": read(directory, "train_step_bfloat16.json"),
        "host_time": read(directory, "host_time.json"),
        "host_time_4_per_call": read(directory, "host_time_4_per_call.json"),
        "full_split_eval": read(directory, "full_split_eval.json"),
        "demo_held_out_curve": metrics.get("held_out_curve") if isinstance(metrics, dict) else None,
    }


if __name__ == "__main__":
    print(json.dumps(summary(sys.argv[1]), indent=1))
