"""The train step on a tiny model: it learns, it is deterministic, it does not depend on
the number of devices, on the steps per call or on conv_impl; the command line's refusals
and the summary's counts (a whole run through it is tests/test_training_run.py's).

Compiling a train step costs seconds to tens of seconds on 2 cores, so the single-device
step is compiled once per module and every test reuses it; its two steps from the tiny
initial state are the session's reference (tests/conftest.py `reference_steps`), which
test_mixed_precision and test_distributed compare with too; the 8-device and the
two-steps-per-call forms share one program.
"""

import logging
import math
import os
import threading
import time
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from inbetweening.config.validation import ConfigError
from inbetweening.data import input_pipeline
from inbetweening.models import create_models
from inbetweening.runtime import sharding
from inbetweening.tools import diagnose, summary
from inbetweening.training import evaluations, objectives, progress, train

import tiny_setup
from command_lines import run_module, run_training, tiny_training_command

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# One example per simulated device; the steps of the session's reference (conftest.py).
BATCH, NUM_STEPS = tiny_setup.REFERENCE_BATCH, tiny_setup.REFERENCE_STEPS


def tiny_config(conv_impl="fast"):
    return tiny_setup.equivalence_config(BATCH, conv_impl=conv_impl)


@pytest.fixture(scope="module")
def setup():
    config = tiny_setup.reference_config()
    models = create_models(config.model)
    state = tiny_setup.initial_state(config, models)
    return config, models, state, tiny_setup.random_videos(NUM_STEPS, BATCH)


@pytest.fixture(scope="module")
def single_device(reference_steps):
    """The single-device step, and the session's reference steps, which are its steps from
    `setup`'s state on `setup`'s videos."""
    return (*tiny_setup.reference_step(), reference_steps)


def _leaves(tree):
    return jax.tree_util.tree_leaves_with_path(tree)


def test_steps_update_every_network_and_losses_are_finite(setup, single_device):
    _, _, initial, _ = setup
    _, _, (states, metrics) = single_device
    assert [int(s.step) for s in states] == list(range(1, NUM_STEPS + 1))
    final = states[-1]
    for name, before, after in (
        ("generator", initial.g_params, final.g_params),
        ("video D", initial.d_params["video"], final.d_params["video"]),
        ("image D", initial.d_params["image"], final.d_params["image"]),
    ):
        # Every kernel moves: a parameter cut off from its loss would stay put.
        for (path, a), (_, b) in zip(_leaves(before), _leaves(after)):
            if path[-1].key == "kernel":
                assert np.any(a != b), f"{name} {jax.tree_util.keystr(path)} did not change"
    # Batch norm running statistics follow the training batches.
    assert any(
        np.any(a != b)
        for (_, a), (_, b) in zip(_leaves(initial.g_batch_stats), _leaves(final.g_batch_stats))
    )
    expected = {
        "d_loss",
        "g_loss",
        "d_video_loss",
        "d_image_loss",
        "g_video_loss",
        "g_image_loss",
        "video_penalty",
        "image_penalty",
    }
    for step_metrics in metrics:
        assert expected <= set(step_metrics)
        assert all(math.isfinite(v) for v in step_metrics.values()), step_metrics


def test_same_seed_and_batches_give_identical_parameters(setup, single_device):
    _, _, initial, videos = setup
    step_fn, mesh, (states, metrics) = single_device
    again, again_metrics = tiny_setup.run_steps(step_fn, mesh, initial, videos[:1])
    assert again_metrics[0] == metrics[0]
    for (_, a), (_, b) in zip(_leaves(again[0]), _leaves(states[0])):
        np.testing.assert_array_equal(a, b)


def test_step_number_changes_the_noise(setup, single_device):
    """Same parameters and batch, only state.step differs: fold_in(key, step) must draw a
    different u and frame index, hence different losses."""
    _, _, initial, videos = setup
    step_fn, mesh, (_, metrics) = single_device
    _, later = tiny_setup.run_steps(
        step_fn, mesh, initial.replace(step=np.asarray(5, np.int32)), videos[:1]
    )
    assert later[0]["g_loss"] != metrics[0]["g_loss"]
    assert later[0]["d_loss"] != metrics[0]["d_loss"]


def test_two_steps_per_call_on_eight_devices_are_the_single_steps_on_one(setup, single_device):
    """One program for two claims, since each train step program costs tens of seconds to
    compile here: K steps per call (lax.scan) are K single steps, and 8 devices step as 1
    does. Batch norm and the losses reduce over the global batch either way, and XLA fuses
    the scanned steps otherwise, so only the order of float32 sums differs. Tolerances:
    losses rtol 1e-4; parameters atol 1e-5 after 2 Adam steps of lr 4e-4 (configs/demo.py),
    whose updates are ~lr * g / |g|: a relative gradient difference of 1e-5 moves a
    parameter by ~1e-9, far below atol, while a missing cross-device reduction (per-device
    batch norm or loss) changes updates by ~lr."""
    config, models, initial, videos = setup
    _, _, (states, metrics) = single_device
    assert jax.device_count() == 8, "tests/conftest.py should simulate 8 CPU devices"
    mesh = sharding.make_mesh(jax.devices())
    step_fn = train.jit_train_step(config, models, mesh, steps_per_call=NUM_STEPS)
    final, stacked = step_fn(initial, sharding.global_batch(videos, mesh, stacked=True))
    final = tiny_setup.host_copy(final)
    assert int(final.step) == NUM_STEPS
    for field in ("g_params", "g_batch_stats", "d_params"):
        for (path, value), (_, reference) in zip(
            _leaves(getattr(final, field)), _leaves(getattr(states[-1], field))
        ):
            np.testing.assert_allclose(
                value,
                reference,
                rtol=1e-4,
                atol=1e-5,
                err_msg=f"{field}{jax.tree_util.keystr(path)}",
            )
    for name in metrics[0]:
        np.testing.assert_allclose(
            np.asarray(stacked[name]),
            [m[name] for m in metrics],
            rtol=1e-4,
            atol=1e-6,
            err_msg=name,
        )


def test_conv_impl_xla_computes_the_networks_of_fast(setup):
    """The three networks with conv_impl="xla" and "fast" on the same parameters (both
    forms read the same kernels): float32 differences of summation order only. Their
    first and second derivatives agree layer by layer, at every layer shape the model
    uses, in tests/test_layers.py; compiling a whole train step per form costs tens of
    seconds more and adds no layer."""
    config, _, initial, videos = setup
    real = jnp.asarray(videos[0], jnp.float32) / 127.5 - 1.0
    noise = jax.random.normal(jax.random.PRNGKey(0), (BATCH, config.model.noise_dim))

    def networks(conv_impl):
        models = create_models(tiny_config(conv_impl).model)

        @jax.jit
        def outputs(state, real, noise):
            fake, _ = objectives.generate_in_training(
                models.generator, state.g_params, state.g_batch_stats, real, noise
            )
            return {
                "generator": fake,
                "video discriminator": models.video_discriminator.apply(
                    {"params": state.d_params["video"]}, real
                ),
                "image discriminator": models.image_discriminator.apply(
                    {"params": state.d_params["image"]}, real[:, 1]
                ),
            }

        return outputs(initial, real, noise)

    fast, xla = networks("fast"), networks("xla")
    for name in fast:
        np.testing.assert_allclose(xla[name], fast[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_pick_frames_equals_fancy_indexing():
    rng = np.random.default_rng(3)
    videos = rng.normal(size=(5, 6, 3, 2, 2)).astype(np.float32)
    index = rng.integers(0, 6, size=5)
    np.testing.assert_array_equal(
        objectives.pick_frames(videos, index), videos[np.arange(5), index]
    )


def _cli(workdir, *flags):
    return run_training(tiny_training_command(workdir, *flags))


@pytest.mark.parametrize(
    "path, steps, label",
    [
        ("repo/pretrained/synthetic_demo/", 12000, "pretrained synthetic_demo, 12,000 steps"),
        ("runs/long", 1, "long, 1 step"),
        ("runs/long", None, "long"),
    ],
)
def test_reference_models_are_labelled_with_their_steps(path, steps, label):
    model = types.SimpleNamespace(training_info={} if steps is None else {"steps": steps})
    assert evaluations.reference_label(path, model) == label


def test_a_reference_model_of_other_frames_is_left_out_with_a_warning(tiny_workdir, caplog):
    config = tiny_setup.tiny_config(4)
    config.eval.reference_models = (tiny_workdir,)
    assert [name for name, _, _ in evaluations.reference_models(config)] == [
        os.path.basename(tiny_workdir)
    ]
    config.model.image_size = 32
    with caplog.at_level(logging.WARNING, logger="absl"):
        assert evaluations.reference_models(config) == []
    assert f"{tiny_workdir} makes (16, 16, 3) frames, this run (32, 32, 3): left out" in caplog.text


def test_diagnose_without_checkpoints_exits_2(tmp_path):
    result = run_module("inbetweening.tools.diagnose", f"--workdir={tmp_path}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error:")
    assert str(tmp_path) in result.stderr


def test_cli_rejects_invalid_override_before_writing(tmp_path):
    workdir = tmp_path / "run"
    result = _cli(workdir, "--config.num_train_steps=2", "--config.model.num_frames=10")
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "num_frames" in errors[0] and "10" in errors[0], result.stderr
    assert not workdir.exists() or not any(workdir.iterdir())


def test_cli_names_a_workdir_it_cannot_write(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = _cli(blocker / "run", "--config.num_train_steps=2")
    assert result.returncode == 2, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: --workdir={blocker / 'run'}: cannot write there"), last
    assert blocker.read_text() == ""


def test_summary_counts_kernels_as_appendix_a_does():
    """--mode=summary's kernel counts at the tiny sizes (C = D = 8, every width 8, RGB),
    derived like Appendix A's (the installed command line writes a summary in
    tests/test_packaging.py):
    E: 16*3*8 + 9*8*8 + 16*8*8 + 9*8*8 + 16*8*8 + 9*8*8 + 9*8*8 = 4,736;
    G_Z, 3 blocks at T = 4, 8, 16: dense 8*8*(4+8+16) = 1,792, per block 3 temporal
    3*8*8 + 2 spatial 27*8*8 = 4,032, so 1,792 + 3*4,032 = 13,888;
    G_V, with configs/demo.py's key-frame skips (8 channels of E for each key frame join the
    8 of each up-sampling layer's input) and voxel-flow head (5 output channels):
    4 * 27*8*8 + 2 * 48*24*8 + 48*24*5 = 31,104;
    D_V: 64*3*8 + 3 * 64*8*8 + dense (16-12)*1*1*8 = 13,856;
    D_I: L1 9*3*3 + stride-2 stages (16*3*8 + 3*8) + 3 * (16*8*8 + 8*8) + the 3x3 convs
    after all but the last stage 3 * 9*8*8 + dense 1*1*8 = 5,489."""
    config = tiny_setup.tiny_config(4)
    state = train.abstract_train_state(config, create_models(config.model))
    counts = summary.parameter_counts(state)
    modules = counts["generator_modules"]
    assert modules["ImageEncoder_0"]["kernel_params"] == 4_736
    assert modules["LatentGenerator_0"]["kernel_params"] == 13_888
    assert modules["VideoGenerator_0"]["kernel_params"] == 31_104
    assert counts["generator"]["kernel_params"] == 4_736 + 13_888 + 31_104
    assert counts["video_discriminator"]["kernel_params"] == 13_856
    assert counts["image_discriminator"]["kernel_params"] == 5_489


def test_flops_count_each_iteration_of_nested_loops():
    """XLA's cost analysis counts a loop body once; summary.flops counts it per iteration,
    here 4 outer x 5 inner products of [16, 32] @ [32, 8]."""
    matrices, right = jnp.ones((4, 5, 16, 32)), jnp.ones((32, 8))
    looped = lambda m, r: lax.map(lambda outer: lax.map(lambda a: a @ r, outer), m)
    unrolled = lambda m, r: jnp.stack(
        [jnp.stack([m[i, j] @ r for j in range(5)]) for i in range(4)]
    )
    products = 4 * 5 * 2 * 16 * 32 * 8
    assert summary.flops(looped, matrices, right) == pytest.approx(products, rel=0.01)
    assert summary.flops(unrolled, matrices, right) == pytest.approx(products, rel=0.01)


def test_flops_are_counted_on_backends_that_analyse_only_compiled_programs(monkeypatch):
    """Behind PJRT's C API (jax's CUDA plugin), a lowered program's cost analysis is None
    (seen on an H200, jax 0.11.2): the compiled program's gives the same count."""
    matrices, right = jnp.ones((3, 16, 32)), jnp.ones((32, 8))
    looped = lambda m, r: lax.map(lambda a: a @ r, m)
    expected = summary.flops(looped, matrices, right)
    monkeypatch.setattr(jax.stages.Lowered, "cost_analysis", lambda self: None)
    assert summary.flops(looped, matrices, right) == expected
    assert expected == pytest.approx(3 * 2 * 16 * 32 * 8, rel=0.01)


def test_a_non_finite_loss_stops_training_before_anything_is_written(tmp_path, monkeypatch):
    """The loop's handling, with a stand-in step whose second step's loss is NaN, at a step
    due for a checkpoint (a real diverging step is check_finite's input; compiling one
    here would cost a minute)."""
    config = tiny_config()
    config.num_train_steps, config.checkpoint_every_steps = 5, 2
    config.eval.validation_fvd = False
    models = create_models(config.model)
    monkeypatch.setattr(
        train, "init_sharded_state", lambda *args: tiny_setup.initial_state(config, models)
    )
    calls = []

    def diverging_step(state, videos):
        calls.append(videos.shape)
        loss = np.nan if len(calls) == 2 else 1.0
        return state, {"g_loss": jnp.asarray(loss), "d_loss": jnp.asarray(1.0)}

    monkeypatch.setattr(train, "jit_train_step", lambda *args, **kwargs: diverging_step)
    with pytest.raises(
        progress.NonFiniteLossError, match=r"training stopped at step 2: g_loss = nan"
    ):
        train.train_and_evaluate(config, str(tmp_path))
    assert not (tmp_path / "metrics.json").exists()
    assert not (tmp_path / "samples.gif").exists()
    assert len(calls) == 2
    assert not any((tmp_path / "checkpoints").glob("[0-9]*"))


def test_check_finite_names_the_first_non_finite_value():
    progress.check_finite(7, {"g_loss": 1.0, "d_loss": -2.0})
    with pytest.raises(progress.NonFiniteLossError, match="step 7: d_loss = inf"):
        progress.check_finite(7, {"g_loss": 1.0, "d_loss": float("inf")})


@pytest.mark.parametrize(
    "losses, expected",
    [
        ({"d_loss": 1.5, "g_loss": 2.25}, "step 50/200 (25%) d_loss 1.5000 g_loss 2.2500, 2.00"),
        # config.objective="supervised" has no discriminator, so no d_loss.
        ({"g_loss": 0.5, "l1_loss": 0.5}, "step 50/200 (25%) g_loss 0.5000 l1_loss 0.5000, 2.00"),
    ],
)
def test_the_progress_line_names_the_losses_the_objective_has(losses, expected, caplog):
    class NoReporter:
        def scalars(self, step, values):
            self.written = step, values

    reporter = NoReporter()
    with caplog.at_level("INFO"):
        progress.log_progress(50, 200, {**losses, "steps_per_second": 2.0}, reporter)
    assert expected in caplog.text
    assert "ETA 0:01:15" in caplog.text
    assert reporter.written == (50, {**losses, "steps_per_second": 2.0})


def _tiny_models():
    return create_models(tiny_setup.tiny_config(2).model)


def _d_params(models, videos):
    init = jax.jit(
        lambda key: {
            "video": models.video_discriminator.init(key, videos)["params"],
            "image": models.image_discriminator.init(key, videos[:, 0])["params"],
        }
    )
    return init(jax.random.PRNGKey(0))


def test_mismatched_key_frames_take_the_next_videos_key_frames():
    videos = np.arange(3 * 5).reshape(3, 5, 1, 1, 1).astype(np.float32)
    mismatched = np.asarray(objectives.mismatched_key_frames(videos))
    np.testing.assert_array_equal(mismatched[:, 1:-1], videos[:, 1:-1])
    np.testing.assert_array_equal(mismatched[:, [0, -1]], videos[[2, 0, 1]][:, [0, -1]])


@pytest.mark.parametrize("image_frames,mismatched", [("all", False), ("one", True)])
def test_discriminator_losses_against_per_example_logits(image_frames, mismatched):
    """d_video_loss and d_image_loss from the discriminators applied one video or one
    frame at a time: D_I's average over every middle frame (eq. 8) or over one sampled
    frame; D_V's fakes extended by the mismatched videos."""
    models = _tiny_models()
    rng = np.random.default_rng(0)
    real = jnp.asarray(rng.uniform(-1, 1, (2, 16, 16, 16, 3)), jnp.float32)
    fake = jnp.asarray(rng.uniform(-1, 1, (2, 16, 16, 16, 3)), jnp.float32)
    d_params = _d_params(models, real)
    frame_index = None if image_frames == "all" else jnp.array([3, 9])
    config = tiny_setup.tiny_config(2)
    objective = jax.jit(
        lambda p: objectives.discriminator_objective(
            p, real, fake, frame_index, models, config.gradient_penalty, mismatched
        )
    )
    _, metrics = objective(d_params)

    # One example at a time (under jit: op by op each call would take seconds).
    video_apply = jax.jit(
        lambda v: models.video_discriminator.apply({"params": d_params["video"]}, v[None])[0]
    )
    image_apply = jax.jit(
        lambda f: models.image_discriminator.apply({"params": d_params["image"]}, f[None])[0]
    )
    video_logit = lambda v: float(video_apply(v))
    image_logit = lambda f: float(image_apply(f))
    softplus = lambda x: np.logaddexp(0.0, x)
    fakes = list(fake) + (list(objectives.mismatched_key_frames(real)) if mismatched else [])
    expected_video = np.mean([softplus(-video_logit(v)) for v in real]) + np.mean(
        [softplus(video_logit(v)) for v in fakes]
    )
    frames = (
        (lambda v, n: v[1:-1])
        if image_frames == "all"
        else (lambda v, n: v[int(frame_index[n])][None])
    )
    real_frames = [f for n, v in enumerate(real) for f in frames(v, n)]
    fake_frames = [f for n, v in enumerate(fake) for f in frames(v, n)]
    assert len(real_frames) == (28 if image_frames == "all" else 2)
    expected_image = np.mean([softplus(-image_logit(f)) for f in real_frames]) + np.mean(
        [softplus(image_logit(f)) for f in fake_frames]
    )
    assert float(metrics["d_video_loss"]) == pytest.approx(expected_video, rel=1e-4)
    assert float(metrics["d_image_loss"]) == pytest.approx(expected_image, rel=1e-4)


def test_diagnostics_measure_influence_and_gradient_norms(setup):
    config, models, state, videos = setup
    variables = {"params": state.g_params, "batch_stats": state.g_batch_stats}
    influence = diagnose.key_frame_influence(
        models.generator, variables, videos[0], jax.random.PRNGKey(0)
    )
    for name in ("start", "end", "noise"):
        assert len(influence[name]) == 14
    # An untrained generator still depends on every input.
    assert max(influence["start"]) > 0 and max(influence["noise"]) > 0
    state_dict = {
        "g_params": state.g_params,
        "g_batch_stats": state.g_batch_stats,
        "d_params": state.d_params,
    }
    norms, losses = diagnose.gradient_norms(
        config, models, state_dict, videos[0], jax.random.PRNGKey(0)
    )
    assert set(norms) == {
        "generator/ImageEncoder_0",
        "generator/LatentGenerator_0",
        "generator/VideoGenerator_0",
        "discriminator/video",
        "discriminator/image",
    }
    assert all(value > 0 and math.isfinite(value) for value in norms.values())
    assert {"g_loss", "d_loss", "d_video_loss", "d_image_loss"} <= set(losses)


def test_weight_average_has_tensorflows_warm_up():
    params, average = {"w": np.array([1.0, 2.0])}, {"w": np.array([-1.0, 0.5])}
    for step, decay in ((0, 0.99), (5, 0.99), (10_000, 0.99), (3, 0.0)):
        got = train.moving_average(average, params, decay, jnp.asarray(step, jnp.float32))
        rate = min(decay, (1 + step) / (10 + step))
        np.testing.assert_allclose(
            got["w"], rate * average["w"] + (1 - rate) * params["w"], rtol=1e-6
        )


def test_the_step_keeps_the_weight_average(setup, single_device):
    config, _, initial, _ = setup
    _, _, (states, _) = single_device
    average = initial.g_ema_params
    for state in states:
        average = train.moving_average(
            average, state.g_params, config.generator_ema_decay, state.step - 1
        )
        for (path, a), (_, b) in zip(_leaves(state.g_ema_params), _leaves(average)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7, err_msg=str(path))


def test_supervised_objective_is_the_l1_of_the_middle_frames():
    rng = np.random.default_rng(0)
    fake, real = (rng.uniform(-1, 1, (2, 6, 4, 4, 3)).astype(np.float32) for _ in range(2))
    loss, metrics = objectives.supervised_objective(jnp.asarray(fake), jnp.asarray(real))
    expected = np.abs(fake[:, 1:-1] - real[:, 1:-1]).mean()
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    assert metrics["l1_loss"] == metrics["g_loss"] == loss
    # The key frames are not generated: differences there cost nothing.
    fake[:, [0, -1]] += 5.0
    np.testing.assert_allclose(objectives.supervised_objective(fake, real)[0], expected, rtol=1e-6)


def test_the_reconstruction_term_adds_its_weight_times_the_l1():
    models = _tiny_models()
    rng = np.random.default_rng(1)
    real, fake = (jnp.asarray(rng.uniform(-1, 1, (2, 16, 16, 16, 3)), jnp.float32) for _ in "rf")
    d_params = _d_params(models, real)
    # The weight is a Python float from the config: static, as in the train step.
    objective = jax.jit(
        lambda weight: objectives.generator_objective(
            fake, d_params, None, models, real, reconstruction_weight=weight
        ),
        static_argnums=0,
    )
    adversarial, plain = objective(0.0)
    total, metrics = objective(2.5)
    l1 = np.abs(np.asarray(fake)[:, 1:-1] - np.asarray(real)[:, 1:-1]).mean()
    assert "l1_loss" not in plain
    np.testing.assert_allclose(metrics["l1_loss"], l1, rtol=1e-5)
    np.testing.assert_allclose(total, adversarial + 2.5 * l1, rtol=1e-5)
    assert metrics["g_loss"] == total and metrics["g_video_loss"] == plain["g_video_loss"]


def _metrics(g_loss, d_loss=1.0):
    return {"g_loss": jnp.asarray(g_loss, jnp.float32), "d_loss": jnp.asarray(d_loss)}


def test_the_metrics_window_averages_on_the_devices_and_resets():
    window = progress.MetricsWindow()
    for step, loss in enumerate([1.0, 2.0, 4.5], start=11):
        window.add(step, _metrics(loss, -loss))
    means = window.mean_and_reset()
    assert means["g_loss"] == pytest.approx(7.5 / 3) and means["d_loss"] == pytest.approx(-2.5)
    assert means["steps_per_second"] > 0
    assert window.last == {"g_loss": 4.5, "d_loss": -4.5}
    window.add(14, _metrics(10.0))
    assert window.mean_and_reset()["g_loss"] == 10.0
    with pytest.raises(ValueError, match="step 16 after step 14"):
        window.add(16, _metrics(1.0))


def test_the_metrics_window_names_the_first_non_finite_step_when_checked_later():
    window = progress.MetricsWindow()
    for step, loss in zip(range(1, 6), [1.0, 2.0, np.inf, np.nan, 3.0]):
        window.add(step, _metrics(loss))
    # Steps 4 and 5 do not hide step 3; nothing was fetched before.
    with pytest.raises(progress.NonFiniteLossError, match=r"step 3: g_loss = inf"):
        window.check()
    with pytest.raises(progress.NonFiniteLossError, match=r"step 3: g_loss = inf"):
        window.mean_and_reset()


def test_the_metrics_window_takes_the_steps_of_one_call_as_vectors():
    window = progress.MetricsWindow()
    window.add(1, _metrics([1.0, 2.0], [0.0, -1.0]))
    window.add(3, _metrics([3.0, 6.0], [0.0, 0.0]))
    means = window.mean_and_reset()
    assert means["g_loss"] == pytest.approx(3.0) and means["d_loss"] == pytest.approx(-0.25)
    assert window.last == {"g_loss": 6.0, "d_loss": 0.0}
    with pytest.raises(ValueError, match="step 6 after step 4"):
        window.add(6, _metrics([1.0, 1.0]))
    window.add(5, _metrics([1.0, np.nan], [1.0, 1.0]))
    window.add(7, _metrics([np.inf, 1.0], [1.0, 1.0]))
    with pytest.raises(progress.NonFiniteLossError, match=r"step 6: g_loss = nan"):
        window.check()


def test_the_loop_takes_steps_per_call_and_refuses_a_step_it_cannot_resume_at():
    config = tiny_config()
    config.num_train_steps, config.log_every_steps, config.steps_per_call = 8, 4, 2
    config.sample_every_steps, config.checkpoint_every_steps = 8, 6
    calls, shapes = [], []

    @jax.jit
    def stand_in_steps(state, stacked):
        return state + 2, _metrics(jnp.sum(stacked, axis=(1, 2)) + state, jnp.zeros(2))

    def run(first_step):
        batches = (np.full((2, 3), step, np.uint8) for step in range(100))
        mesh = sharding.make_mesh(jax.devices()[:1])
        return train.train_loop(
            config,
            jnp.zeros((), jnp.int32),
            lambda state, stacked: shapes.append(stacked.shape) or stand_in_steps(state, stacked),
            input_pipeline.device_batches(batches, mesh, steps_per_call=2),
            first_step,
            log=lambda step, means: calls.append(("log", step, means["g_loss"])),
            sample=lambda state: calls.append(("sample", int(state))),
            checkpoint=lambda step, state: calls.append(("checkpoint", step, int(state))),
        )

    state, _ = run(3)
    # Steps 3..8, two a call, take batches 0..5 (batch b sums to 6 b).
    assert int(state) == 6 and shapes == [(2, 2, 3)] * 3
    g_loss = {step: 6 * (step - 3) + 2 * ((step - 3) // 2) for step in range(3, 9)}
    assert calls == [
        ("log", 4, (g_loss[3] + g_loss[4]) / 2),
        ("checkpoint", 6, 4),
        ("log", 8, np.mean([g_loss[s] for s in range(5, 9)])),
        ("sample", 6),
        ("checkpoint", 8, 6),
    ]
    with pytest.raises(ConfigError, match="steps_per_call=2: the run resumes after step 3"):
        run(4)


def test_the_loop_fetches_metrics_only_at_log_sample_and_checkpoint_steps(monkeypatch):
    config = tiny_config()
    config.num_train_steps, config.log_every_steps = 10, 4
    config.sample_every_steps, config.checkpoint_every_steps = 5, 6
    fetches, calls = [], []
    device_get = jax.device_get
    monkeypatch.setattr(jax, "device_get", lambda tree: fetches.append(1) or device_get(tree))

    @jax.jit
    def stand_in_step(state, videos):
        return state + 1, _metrics(jnp.sum(videos) + state, 0.0)

    batches = (np.full((2, 3), step, np.uint8) for step in range(100))
    mesh = sharding.make_mesh(jax.devices()[:1])
    state, window = train.train_loop(
        config,
        jnp.zeros((), jnp.int32),
        stand_in_step,
        input_pipeline.device_batches(batches, mesh),
        3,
        log=lambda step, means: calls.append(("log", step, means["g_loss"])),
        sample=lambda state: calls.append(("sample", int(state))),
        checkpoint=lambda step, state: calls.append(("checkpoint", step, int(state))),
    )
    # Steps 3..10 take batches 0..7 (batch b sums to 6 b; the state counts the steps).
    assert int(state) == 8
    g_loss = {step: 6 * (step - 3) + (step - 3) for step in range(3, 11)}
    assert calls == [
        ("log", 4, (g_loss[3] + g_loss[4]) / 2),
        ("sample", 3),
        ("checkpoint", 6, 4),
        ("log", 8, np.mean([g_loss[s] for s in range(5, 9)])),
        ("log", 10, (g_loss[9] + g_loss[10]) / 2),
        ("sample", 8),
        ("checkpoint", 10, 8),
    ]
    # One fetch at each log step and one at each sample or checkpoint step: 3 + 3.
    assert len(fetches) == 6
    assert window.last == {"g_loss": g_loss[10], "d_loss": 0.0}


def test_device_batches_are_the_batches_on_the_mesh_two_ahead():
    pulled, consumer = [], threading.get_ident()

    def local_batches():
        for step in range(5):
            assert threading.get_ident() != consumer  # transferred off the loop's thread
            pulled.append(step)
            yield np.full((8, 2), step, np.uint8)

    mesh = sharding.make_mesh(jax.devices())
    batches = input_pipeline.device_batches(local_batches(), mesh)
    first = next(batches)
    time.sleep(0.2)
    assert pulled == [0, 1]  # the next one on its way while the first is used, no more
    assert first.sharding == sharding.batch_sharding(mesh)
    rest = list(batches)
    assert [int(np.asarray(b)[0, 0]) for b in [first, *rest]] == [0, 1, 2, 3, 4]
