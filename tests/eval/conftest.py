"""Fixtures shared by the evaluation tests."""

import importlib.util
import types

import jax
import numpy as np
import pytest

from inbetweening.eval import i3d
from inbetweening.runtime import command_line

# Small I3D inputs keep CPU time low: 48x48 frames leave a 2x2 map after five halvings, and a
# 2x2x2 logits pool replaces the 224x224 model's 2x7x7. Not smaller: on 2x2 maps (32x32
# frames leave them at Mixed_4, 48x48 only at Mixed_5) XLA:CPU at the tests' lowest level
# (tests/xla_test_flags.py) runs the 3x3x3 convolutions as a naive loop: 2 videos of 48x48
# take 1.3 s, of 32x32 3.4 s.
SMALL_FRAME_SIZE = (48, 48)
SMALL_I3D_SHAPE = (2, 16) + SMALL_FRAME_SIZE + (3,)
SMALL_POOL = (2, 2, 2)


@pytest.fixture(scope="session")
def tf():
    # The test-only reference implementation; imported lazily, as it is slow to import.
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow (the reference implementation) is not installed")
    return command_line.import_tensorflow()


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def small_i3d():
    """A small-input I3D and its jitted apply, shared so it compiles once (seconds on CPU).

    Apply it to [2, 16, 48, 48, 3] (`.shape`) to reuse the compilation.
    """
    model = i3d.I3D(logits_pool_window=SMALL_POOL)
    return types.SimpleNamespace(
        model=model, apply=jax.jit(model.apply), shape=SMALL_I3D_SHAPE, frame_size=SMALL_FRAME_SIZE
    )
