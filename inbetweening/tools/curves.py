"""Held-out learning curves of training runs, drawn into one PNG.

    python -m inbetweening.tools.curves WORKDIR [WORKDIR ...] --out=curves.png

Each work directory's metrics.json holds its held-out curve (best-of-N SSIM and PSNR of
the middle frames at every sample step, written as training goes); the picture puts the
runs side by side against the cross-fade and the repeated key frames.
"""

import json
import sys

from absl import flags

from inbetweening.runtime import command_line
from inbetweening.runtime.command_line import user_error
from inbetweening.storage.paths import read_json, user_path
from inbetweening.tools import plots
from inbetweening.training.evaluations import METRICS_FILE

FLAGS = flags.FLAGS


def read_curves(workdirs: list[str]) -> dict[str, list[dict]]:
    """{work directory: its held-out curve}. Raises ValueError naming a directory without
    one."""
    curves = {}
    for workdir in workdirs:
        path = user_path(workdir) / METRICS_FILE
        try:
            curve = read_json(path).get("held_out_curve")
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: cannot be read ({error})") from None
        if not curve:
            raise ValueError(f"{path} holds no held-out curve (no sample step yet?)")
        curves[workdir.rstrip("/")] = curve
    return curves


def main(argv):
    workdirs = argv[1:]
    if not workdirs:
        sys.exit(user_error("name one or more work directories"))
    try:
        curves = read_curves(workdirs)
    except ValueError as error:
        sys.exit(user_error(str(error)))
    plots.plot_held_out_curves(curves, FLAGS.out)
    print(f"Held-out curves of {len(curves)} runs: {FLAGS.out}")


def define_flags() -> None:
    flags.DEFINE_string("out", "curves.png", "The PNG to write.")


def cli() -> None:
    """Console-script entry point (setup.cfg); also `python -m inbetweening.tools.curves`."""
    define_flags()
    command_line.run(main)


if __name__ == "__main__":
    cli()
