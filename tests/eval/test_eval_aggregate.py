"""eval.aggregate: runs combined as the paper's Tables 1-3, against numpy."""

import json

import numpy as np
import pytest

from configs import demo
from inbetweening.config.recorded import NOT_COMPARED, flatten
from inbetweening.eval import aggregate

RESAMPLES = 400
# A recorded config as --mode=eval writes it: the run's whole config, flattened.
SETTINGS = {**flatten(demo.get_config()), "eval.num_generations": 3}


def _percentile_bootstrap(values, num_resamples=RESAMPLES, seed=0):
    """The paper's 95% interval of the mean, written out in numpy."""
    values = np.asarray(values, np.float64)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (num_resamples, len(values)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return values.mean(), low, high


def _raw(rng, settings=SETTINGS, rounds=3, examples=5):
    method = lambda: {
        "fvd_per_round": rng.uniform(100, 200, rounds).tolist(),
        "diversity_per_pair": rng.uniform(0, 0.2, examples).tolist(),
        "best_ssim_per_example": rng.uniform(0.5, 0.9, examples).tolist(),
    }
    return {
        "config": dict(settings),
        "methods": {"model (full)": method(), "cross-fade": method()},
    }


def _write_runs(tmp_path, raws):
    run_dirs = []
    for index, raw in enumerate(raws):
        run_dir = tmp_path / f"seed_{index}"
        (run_dir / "eval").mkdir(parents=True)
        (run_dir / "eval" / aggregate.RAW_FILE).write_text(json.dumps(raw))
        run_dirs.append(str(run_dir))
    return run_dirs


def _assert_interval(actual, expected):
    assert [actual["mean"], actual["low"], actual["high"]] == pytest.approx(list(expected))


def test_fvd_pools_runs_and_rounds_and_the_rest_is_over_run_means(tmp_path, capsys):
    rng = np.random.default_rng(1)
    raws = [_raw(rng) for _ in range(4)]
    out = tmp_path / "tables" / "kth.json"
    assert aggregate.run(_write_runs(tmp_path, raws), str(out), RESAMPLES) == 0

    written = json.loads(out.read_text())["tables"]
    for method in ("model (full)", "cross-fade"):
        values = [raw["methods"][method] for raw in raws]
        pooled = np.concatenate([v["fvd_per_round"] for v in values])
        _assert_interval(written[method]["fvd"], _percentile_bootstrap(pooled))
        for metric, key in (("diversity", "diversity_per_pair"), ("ssim", "best_ssim_per_example")):
            run_means = [np.mean(v[key]) for v in values]
            _assert_interval(written[method][metric], _percentile_bootstrap(run_means))
        assert written[method]["num_runs"] == 4
    table = (tmp_path / "tables" / "kth.md").read_text()
    assert table == capsys.readouterr().out.rstrip("\n") + "\n"
    assert "| model (full) |" in table and "4 training run(s)" in table
    assert "12 runs x generation rounds" in table and "4 run means" in table


def test_one_run_gives_intervals_over_its_examples(tmp_path):
    rng = np.random.default_rng(2)
    raw = _raw(rng)
    rows = aggregate.combine([aggregate.load_run(_write_runs(tmp_path, [raw])[0])], RESAMPLES)
    values = raw["methods"]["model (full)"]
    _assert_interval(
        rows["model (full)"]["ssim"], _percentile_bootstrap(values["best_ssim_per_example"])
    )
    _assert_interval(rows["model (full)"]["fvd"], _percentile_bootstrap(values["fvd_per_round"]))
    assert rows["model (full)"]["ssim"]["over"] == "5 values of one run"


@pytest.mark.parametrize(
    "field,value",
    [
        ("data.name", "kth"),
        ("model.variant", "naive"),
        ("eval.num_generations", 100),
        ("eval.split", "validation"),
        # The training recipe, not only the model.
        ("gradient_penalty.form", "roth"),
        ("gradient_penalty.coefficient", 0.1),
        ("learning_rate", 5e-5),
        ("discriminator_learning_rate", 5e-5),
        ("reconstruction_weight", 0.0),
        ("image_discriminator_frames", "one"),
        ("generator_ema_decay", 0.0),
        ("model.frame_head", "pixels"),
        ("model.key_frame_skips", False),
        ("objective", "supervised"),
        ("num_train_steps", 500_000),
        ("batch_size", 32),
    ],
)
def test_runs_trained_or_evaluated_otherwise_are_refused(tmp_path, capsys, field, value):
    rng = np.random.default_rng(3)
    raws = [_raw(rng), _raw(rng, {**SETTINGS, field: value})]
    out = tmp_path / "combined.json"
    assert aggregate.run(_write_runs(tmp_path, raws), str(out), RESAMPLES) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {field} differs") and "seed_1" in error
    assert not out.exists()


def test_seeds_implementations_and_reporting_may_differ(tmp_path):
    rng = np.random.default_rng(4)
    changed = {
        "seed": 3,
        "model.conv_impl": "xla",
        "model.remat_latent_blocks": True,
        "data.data_dir": "/elsewhere",
        "log_every_steps": 7,
        "eval.num_bootstrap_resamples": 10,
    }
    assert set(changed) <= set(NOT_COMPARED)
    raws = [_raw(rng), _raw(rng, {**SETTINGS, **changed})]
    assert aggregate.run(_write_runs(tmp_path, raws), None, RESAMPLES) == 0


def test_a_run_without_eval_is_named(tmp_path, capsys):
    run_dirs = _write_runs(tmp_path, [_raw(np.random.default_rng(5))])
    missing = tmp_path / "not_evaluated"
    missing.mkdir()
    out = tmp_path / "combined.json"
    assert aggregate.run([*run_dirs, str(missing)], str(out), RESAMPLES) == 2
    error = capsys.readouterr().err
    assert str(missing) in error and "--mode=eval" in error
    assert not out.exists()


@pytest.mark.parametrize(
    "content",
    [
        '{"config": ',
        '{"config": {}, "methods": {}}',
        '{"config": {}, "methods": {"m": {"fvd_per_round": []}}}',
    ],
)
def test_a_corrupt_raw_file_is_named(tmp_path, capsys, content):
    (run_dir,) = _write_runs(tmp_path, [_raw(np.random.default_rng(6))])
    path = tmp_path / "seed_0" / "eval" / aggregate.RAW_FILE
    path.write_text(content)
    assert aggregate.run([run_dir], None, RESAMPLES) == 2
    assert str(path) in capsys.readouterr().err


def test_a_raw_file_of_an_earlier_version_asks_for_a_new_evaluation(tmp_path, capsys):
    (run_dir,) = _write_runs(tmp_path, [_raw(np.random.default_rng(7))])
    path = tmp_path / "seed_0" / "eval" / aggregate.RAW_FILE
    raw = json.loads(path.read_text())
    path.write_text(json.dumps({"settings": raw.pop("config"), **raw}))
    assert aggregate.run([run_dir], None, RESAMPLES) == 2
    error = capsys.readouterr().err
    assert "earlier version" in error and f"--workdir={run_dir}" in error
