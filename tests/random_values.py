"""Random values for traced parameter trees, drawn in numpy: flax's init compiles a
truncated normal per kernel shape, which takes seconds each on this machine."""

import numpy as np


def parameter_value(name, shape, rng: np.random.Generator, spread: float) -> np.ndarray:
    """Kernels ~ 1/sqrt(fan-in); batch-norm variances in [0.5, 2] and scales near 1, so
    inference-mode normalisation is not the identity; other leaves ~ spread * N(0, 1)."""
    values = rng.normal(size=shape)
    if name == "kernel":
        return values / np.sqrt(np.prod(shape[:-1]))
    if name == "var":
        return rng.uniform(0.5, 2.0, size=shape)
    if name == "scale":
        return 1.0 + spread * values
    return spread * values
