"""Each export format loads back (params in the API, jax.export without this package's
code, the SavedModel in TensorFlow) and matches the JAX generator. The CLI runs once (params);
the other formats are written in-process, saving a TensorFlow start-up."""

import logging

import jax
import numpy as np
import pytest

from inbetweening.api import Inbetweener
from inbetweening.export import export_jax, export_saved_model, input_specs, tween
from inbetweening.runtime import command_line

from command_lines import run_module
from test_sample import NUM_FRAMES, SIZE

NOISE_DIM = 8


def _export(workdir, export_format, out):
    result = run_module(
        "inbetweening.export", f"--workdir={workdir}", f"--format={export_format}", f"--out={out}"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return str(out)


def _inputs(batch: int, seed: int, height: int = SIZE, width: int = SIZE):
    """key frames float32 [B, 2, H, W, 3] in 0..255, noise [B, D]."""
    rng = np.random.default_rng(seed)
    key_frames = rng.integers(0, 256, (batch, 2, height, width, 3)).astype(np.float32)
    return key_frames, rng.standard_normal((batch, NOISE_DIM)).astype(np.float32)


@pytest.fixture(scope="module")
def model(tiny_workdir):
    return Inbetweener.load(tiny_workdir)


def _reference(model, key_frames, noise):
    return np.asarray(jax.jit(lambda k, n: tween(model, model.variables, k, n))(key_frames, noise))


def test_params_export_samples_like_the_workdir(model, tiny_workdir, tmp_path):
    exported = Inbetweener.load(_export(tiny_workdir, "params", tmp_path / "params"))
    start, end = _inputs(1, 0)[0][0].astype(np.uint8)
    np.testing.assert_array_equal(exported.sample(start, end, 2), model.sample(start, end, 2))
    # How it was trained travels with it (the work directory has no held-out curve).
    assert exported.training_info == {"steps": 1, "config": model.training_info["config"]}
    assert exported.training_info["config"]["model"] == model.model_config.to_dict()


def test_jax_export_runs_at_two_batch_sizes(model, tmp_path):
    export_jax(model, str(tmp_path / "tween.jax"))
    with open(tmp_path / "tween.jax", "rb") as handle:
        exported = jax.export.deserialize(bytearray(handle.read()))
    for batch in (1, 3):
        key_frames, noise = _inputs(batch, batch)
        videos = np.asarray(exported.call(key_frames, noise))
        assert videos.shape == (batch, NUM_FRAMES - 2, SIZE, SIZE, 3)
        np.testing.assert_allclose(videos, _reference(model, key_frames, noise), atol=1e-3)
    assert [str(d) for d in exported.in_avals[0].shape] == ["b", "2", str(SIZE), str(SIZE), "3"]
    assert input_specs(model)[1].shape[1] == NOISE_DIM


def test_native_size_jax_export_takes_any_multiple_of_8(model, tmp_path):
    export_jax(model, str(tmp_path / "tween.jax"), size="native")
    with open(tmp_path / "tween.jax", "rb") as handle:
        exported = jax.export.deserialize(bytearray(handle.read()))
    assert [str(d) for d in exported.in_avals[0].shape] == ["b", "2", "8*h", "8*w", "3"]
    for height, width in ((SIZE, SIZE), (24, 40)):
        key_frames, noise = _inputs(2, height, height, width)
        videos = np.asarray(exported.call(key_frames, noise))
        assert videos.shape == (2, NUM_FRAMES - 2, height, width, 3)
        np.testing.assert_allclose(videos, _reference(model, key_frames, noise), atol=1e-3)
    with pytest.raises(Exception, match="8"):  # 20 is not a multiple of 8
        exported.call(*_inputs(1, 0, 20, SIZE))


def test_saved_model_matches_jax_and_draws_its_own_noise(model, tmp_path, caplog):
    """The native-size export: with given noise at another batch and a width other than the
    training size, against JAX; drawing its own noise at the training size. The fixed-size
    export differs only in its declared shapes. TensorFlow's AutoGraph stays out of the
    converted JAX code: it printed a warning for each JAX function it failed to rewrite, and
    the attempts took ~90 s of the export's ~100 s here."""
    tf = command_line.import_tensorflow()

    tf_logger = logging.getLogger("tensorflow")  # it does not propagate to caplog's handler
    tf_logger.addHandler(caplog.handler)
    try:
        export_saved_model(model, str(tmp_path / "saved"), size="native")
    finally:
        tf_logger.removeHandler(caplog.handler)
    assert "AutoGraph" not in caplog.text
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    key_frames, noise = _inputs(2, 12, SIZE, 40)
    (videos,) = loaded.signatures["with_noise"](
        key_frames=tf.constant(key_frames), noise=tf.constant(noise)
    ).values()
    np.testing.assert_allclose(videos.numpy(), _reference(model, key_frames, noise), atol=1e-3)
    drawn = loaded(tf.constant(_inputs(1, 11, SIZE, SIZE)[0])).numpy()
    assert drawn.shape == (1, NUM_FRAMES - 2, SIZE, SIZE, 3)
    assert drawn.min() >= 0 and drawn.max() <= 255
