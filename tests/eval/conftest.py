"""Fixtures shared by the evaluation tests."""
import importlib.util

import numpy as np
import pytest




@pytest.fixture(scope="session")
def tf():
    # The test-only reference implementation; imported lazily, as it is slow to import.
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("tensorflow (the reference implementation) is not installed")
    import tensorflow

    return tensorflow


@pytest.fixture
def rng():
    return np.random.default_rng(0)
