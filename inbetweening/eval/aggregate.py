"""The paper's numbers over several training runs (Section 4.1, Tables 1-3).

    python -m inbetweening.eval.aggregate RUN_DIR [RUN_DIR ...] [--out=FILE]

Each RUN_DIR is a work directory after `--mode=eval`, which leaves the raw values in
RUN_DIR/eval/raw.json: FVD per generation round, best SSIM per test example and diversity
per key-frame pair, for every method. They are combined as the paper reports them:
- Table 1, FVD: the mean over all runs and generation rounds pooled, with a 95% bootstrap
  interval over that pool;
- Tables 2-3, diversity and SSIM: each run's mean (over key-frame pairs, over test
  examples), then the mean over runs with a 95% bootstrap interval over the runs. With a
  single run the interval is over its pairs or examples instead, and the table says so.
Runs are pooled only when their recorded configs agree on every field that says what was
trained on what and how it was evaluated (all but config/recorded.py's NOT_COMPARED);
otherwise exit 2, naming the field. The tables are printed; --out=FILE writes FILE.json
and FILE.md.
"""

import json
import os

import numpy as np
from absl import flags

from inbetweening.config.recorded import first_difference
from inbetweening.eval import bootstrap, tables
from inbetweening.runtime import command_line
from inbetweening.runtime.command_line import user_error
from inbetweening.storage.paths import read_json, user_path, write_atomically, write_json

RAW_FILE = "raw.json"
RAW_METRICS = {
    "fvd": "fvd_per_round",
    "diversity": "diversity_per_pair",
    "ssim": "best_ssim_per_example",
}


class RunError(ValueError):
    """A run directory that cannot be read or combined with the others."""


def raw_path(run_dir: str):
    return user_path(run_dir) / "eval" / RAW_FILE


def load_run(run_dir: str) -> dict:
    """RUN_DIR/eval/raw.json: {"config": {field: value}, "methods": {name: {...}}, ...}."""
    path = raw_path(run_dir)
    try:
        raw = read_json(path)
    except FileNotFoundError:
        raise RunError(
            f"{run_dir}: no eval/{RAW_FILE}; run --mode=eval with --workdir={run_dir} first"
        ) from None
    except (OSError, json.JSONDecodeError) as e:
        raise RunError(f"{path}: cannot be read as JSON ({e})") from None
    methods = raw.get("methods") if isinstance(raw, dict) else None
    if isinstance(raw, dict) and "settings" in raw and "config" not in raw:
        raise RunError(
            f"{path}: written by an earlier version, without the run's whole config; run "
            f"--mode=eval with --workdir={run_dir} again"
        )
    if (
        not isinstance(methods, dict)
        or not methods
        or not isinstance(raw.get("config"), dict)
        or not all(
            isinstance(values, dict)
            and all(
                isinstance(values.get(key), list) and values[key] for key in RAW_METRICS.values()
            )
            for values in methods.values()
        )
    ):
        raise RunError(f"{path}: not a raw.json written by --mode=eval")
    return raw


def check_compatible(runs: dict[str, dict]) -> None:
    """Every run must share its recorded config (model, data, training recipe, split and
    generations; config/recorded.py's NOT_COMPARED aside) and its methods with the first;
    raises RunError naming the first field that differs."""
    (first_dir, first), *others = runs.items()
    for run_dir, raw in others:
        difference = first_difference(first["config"], raw["config"])
        if difference is not None:
            field, mine, theirs = difference
            raise RunError(
                f"{field} differs: {mine!r} in {first_dir}, {theirs!r} in "
                f"{run_dir}; combine only runs trained and evaluated alike"
            )
        if set(raw["methods"]) != set(first["methods"]):
            raise RunError(
                f"methods differ: {sorted(first['methods'])} in {first_dir}, "
                f"{sorted(raw['methods'])} in {run_dir}"
            )


def combine(runs: list[dict], num_resamples: int) -> dict[str, dict]:
    """{method: {"fvd" | "diversity" | "ssim": {mean, low, high, over}, "num_runs"}}."""
    rows = {}
    for method in runs[0]["methods"]:
        values = {
            metric: [np.asarray(run["methods"][method][key], np.float64) for run in runs]
            for metric, key in RAW_METRICS.items()
        }
        pooled_fvd = np.concatenate(values["fvd"])
        row = {
            "fvd": {
                **bootstrap.mean_interval(pooled_fvd, num_resamples),
                "over": f"{len(pooled_fvd)} runs x generation rounds, pooled",
            },
            "num_runs": len(runs),
        }
        for metric in ("diversity", "ssim"):
            if len(runs) > 1:
                run_means = np.array([np.mean(v) for v in values[metric]])
                row[metric] = {
                    **bootstrap.mean_interval(run_means, num_resamples),
                    "over": f"{len(runs)} run means",
                }
            else:
                row[metric] = {
                    **bootstrap.mean_interval(values[metric][0], num_resamples),
                    "over": f"{len(values[metric][0])} values of one run",
                }
        rows[method] = row
    return rows


def markdown(rows: dict[str, dict], config: dict) -> str:
    any_row = next(iter(rows.values()))
    return tables.markdown_table(
        rows,
        f"{config.get('data.name')}, {config.get('eval.split')} split",
        f"{any_row['num_runs']} training run(s); 95% bootstrap intervals. FVD over "
        f"{any_row['fvd']['over']}; diversity and SSIM over {any_row['ssim']['over']}.",
    )


def run(run_dirs: list[str], out: str | None, num_resamples: int) -> int:
    """Returns the process exit code; writes nothing unless every run is usable."""
    try:
        if len(set(run_dirs)) != len(run_dirs):
            raise RunError(f"a run directory is given twice: {run_dirs}")
        runs = {run_dir: load_run(run_dir) for run_dir in run_dirs}
        check_compatible(runs)
    except RunError as e:
        return user_error(str(e))
    first = next(iter(runs.values()))
    rows = combine(list(runs.values()), num_resamples)
    table = markdown(rows, first["config"])
    print(table)
    if out:
        stem = os.path.splitext(out)[0]
        result = {"runs": run_dirs, "config": first["config"], "tables": rows}
        try:
            write_json(stem + ".json", result)
            write_atomically(stem + ".md", table.encode())
        except OSError as e:
            return user_error(f"--out={out}: cannot write ({e.strerror})")
    return 0


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        return user_error("give at least one RUN_DIR (a work directory after --mode=eval)")
    return run(argv[1:], FLAGS.out, FLAGS.num_resamples)


FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("out", None, "Also write the tables to FILE.json and FILE.md.")
    flags.DEFINE_integer("num_resamples", 1000, "Bootstrap resamples per interval.")


def cli() -> None:
    """Console-script entry point (setup.cfg); also `python -m inbetweening.eval.aggregate`."""
    define_flags()
    command_line.run(main)


if __name__ == "__main__":
    cli()
