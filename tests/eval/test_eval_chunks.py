"""Per-example functions over a split in bounded calls: the same results as one call."""

import jax.numpy as jnp
import numpy as np

from inbetweening.eval import chunks


def test_calls_have_one_shape_and_results_keep_the_example_order():
    shapes = []

    def per_example(a, b):
        shapes.append((a.shape, b.shape))
        return {"sum": jnp.sum(a, axis=1) + b, "first": a[:, 0]}

    a = np.arange(7 * 3).reshape(7, 3).astype(np.float32)
    b = np.arange(7).astype(np.float32)
    result = chunks.map_examples(per_example, a, b, examples_per_call=3)
    # 3 + 3 + 1 examples, the last call padded to 3 (one compiled shape).
    assert shapes == [((3, 3), (3,))] * 3
    np.testing.assert_array_equal(result["sum"], a.sum(axis=1) + b)
    np.testing.assert_array_equal(result["first"], a[:, 0])
    assert isinstance(result["sum"], np.ndarray) and result["sum"].shape == (7,)


def test_fewer_examples_than_a_call_take_one_unpadded_call():
    shapes = []

    def per_example(a):
        shapes.append(a.shape)
        return a * 2

    np.testing.assert_array_equal(
        chunks.map_examples(per_example, np.ones((2, 4)), examples_per_call=100),
        2 * np.ones((2, 4)),
    )
    assert shapes == [(2, 4)]


def test_the_default_call_size_follows_the_example_size():
    shapes = []

    def per_example(a):
        shapes.append(a.shape)
        return a[:, 0, 0]

    values_per_example = chunks.VALUES_PER_CALL // 4
    videos = np.zeros((9, 2, values_per_example // 2), np.uint8)
    assert chunks.map_examples(per_example, videos).shape == (9,)
    assert [shape[0] for shape in shapes] == [4, 4, 4]
