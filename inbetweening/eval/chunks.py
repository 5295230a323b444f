"""Per-example evaluation functions over a whole split in calls of bounded size, so that
memory does not grow with the number of examples (UCF101's test split: 3,783 clips, ~2.6 GB
per float32 copy of one generation round at 64x64)."""

import collections
import math
from collections.abc import Callable

import jax
import numpy as np

# Float32 values of one call's inputs, per copy: 16 MB. SSIM holds about ten copies (the
# frames in [0, 1], their products, five filtered maps), so a call takes ~200 MB.
VALUES_PER_CALL = 2**22


def call_size(example_shape: tuple[int, ...]) -> int:
    """How many examples of `example_shape` (without the leading N) fit VALUES_PER_CALL."""
    return max(1, VALUES_PER_CALL // math.prod(example_shape))


def map_examples(fn: Callable, *arrays: np.ndarray, examples_per_call: int | None = None):
    """fn(*chunks) over `arrays` (each [N, ...], the same N) in calls of `examples_per_call`
    examples (default: call_size of the first array's examples), concatenated
    on the host: numpy arrays of fn's result tree, each [N, ...].

    fn must compute each example's results from that example alone (its results' first
    axis); the last call's chunk is padded with zeros to the same size (one compiled
    shape) and the padding's results dropped. Two calls are in flight at a time: the next
    one is dispatched before the previous one's results are fetched.
    """
    count = len(arrays[0])
    if count == 0:
        return jax.device_get(fn(*arrays))
    if examples_per_call is None:
        examples_per_call = call_size(arrays[0].shape[1:])
    size = min(examples_per_call, count)
    in_flight, results = collections.deque(), []
    for first in range(0, count, size):
        used = min(size, count - first)
        chunk = [_pad(np.asarray(a[first : first + used]), size) for a in arrays]
        in_flight.append((used, fn(*chunk)))
        if len(in_flight) > 1:
            results.append(_fetch(*in_flight.popleft()))
    results.extend(_fetch(*pending) for pending in in_flight)
    return jax.tree.map(lambda *parts: np.concatenate(parts), *results)


def _fetch(used: int, result):
    return jax.tree.map(lambda x: np.asarray(x)[:used], result)


def _pad(x: np.ndarray, size: int) -> np.ndarray:
    """x [n, ...] with zeros appended along the first axis up to `size`."""
    if len(x) == size:
        return x
    return np.pad(x, [(0, size - len(x))] + [(0, 0)] * (x.ndim - 1))
