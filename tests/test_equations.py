"""Eq. 1-5 of the latent generator against numpy written from the paper (PAPER_NOTES.md)."""

import itertools

import flax
import jax
import numpy as np
import pytest

from inbetweening.models.latent_generator import LatentBlock, fuse, upsample_time
from inbetweening.models.normalization import BatchNorm

B, T, S, C, D = 2, 4, 3, 5, 6


def _rng(seed):
    return np.random.default_rng(seed)


def numpy_fuse(previous, start_encoding, end_encoding, start_gate, end_gate, noise):
    """Eq. 4, element by element with explicit loops over (b, t, y, x)."""
    out = np.empty_like(previous, dtype=np.float64)
    for b, t, y, x in itertools.product(*map(range, previous.shape[:4])):
        gs, ge = start_gate[b, t], end_gate[b, t]
        out[b, t, y, x] = (
            gs * start_encoding[b, y, x]
            + ge * end_encoding[b, y, x]
            + np.maximum(0.0, 1.0 - gs - ge) * previous[b, t, y, x]
            + noise[b, t]
        )
    return out


def test_fuse_matches_eq4_including_the_clipped_previous_weight():
    rng = _rng(0)
    previous, start_enc, end_enc = (
        rng.normal(size=s).astype(np.float32) for s in ((B, T, S, S, C), (B, S, S, C), (B, S, S, C))
    )
    # Gates in (0, 1) summing to more than 1 in about half the entries, so the
    # max(0, 1 - gs - ge) weight of z(l-1) is 0 there.
    start_gate = rng.uniform(0.05, 0.95, size=(B, T, C)).astype(np.float32)
    end_gate = rng.uniform(0.05, 0.95, size=(B, T, C)).astype(np.float32)
    clipped = start_gate + end_gate > 1
    assert 0.2 < clipped.mean() < 0.8
    noise = rng.normal(size=(B, T, C)).astype(np.float32)
    np.testing.assert_allclose(
        fuse(previous, start_enc, end_enc, start_gate, end_gate, noise),
        numpy_fuse(previous, start_enc, end_enc, start_gate, end_gate, noise),
        rtol=1e-5,
        atol=1e-6,
    )


def test_fuse_ignores_previous_where_gates_sum_past_one():
    rng = _rng(1)
    shapes = ((B, T, S, S, C), (B, S, S, C), (B, S, S, C), (B, T, C), (B, T, C), (B, T, C))
    args = [rng.normal(size=s).astype(np.float32) for s in shapes]
    args[3] = np.full((B, T, C), 0.7, np.float32)
    args[4] = np.full((B, T, C), 0.6, np.float32)
    changed = list(args)
    changed[0] = args[0] + 100.0
    np.testing.assert_array_equal(fuse(*args), fuse(*changed))


def test_upsample_time_repeats_each_step():
    z = np.arange(2 * 2 * 3).reshape(2, 2, 3).astype(np.float32)
    np.testing.assert_array_equal(upsample_time(z, 4), z[:, [0, 0, 1, 1]])
    np.testing.assert_array_equal(
        upsample_time(z[:, :, None], 8)[:, :, 0], z[:, [0, 0, 0, 0, 1, 1, 1, 1]]
    )


def leaky_relu(x):
    return np.where(x >= 0, x, 0.2 * x)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def temporal_conv_same(u, kernel, bias):
    """u [B, T, C], kernel [3, C, C']: width-3 convolution with one zero step each side."""
    padded = np.pad(u, [(0, 0), (1, 1), (0, 0)])
    steps = u.shape[1]
    return sum(padded[:, k : k + steps] @ kernel[k] for k in range(3)) + bias


def conv3x3x3_same(x, kernel):
    padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (1, 1), (0, 0)])
    t, h, w = x.shape[1:4]
    return sum(
        padded[:, a : a + t, b : b + h, c : c + w] @ kernel[a, b, c]
        for a, b, c in itertools.product(range(3), repeat=3)
    )


def batch_norm_inference(x, stats, params, epsilon):
    return (x - stats["mean"]) / np.sqrt(stats["var"] + epsilon) * params["scale"] + params["bias"]


def numpy_latent_block(p, stats, previous, start_enc, end_enc, u, fusion, epsilon):
    u_l = (u @ p["noise_projection"]["kernel"] + p["noise_projection"]["bias"]).reshape(
        u.shape[0], previous.shape[1], -1
    )  # eq. 1
    noise = temporal_conv_same(u_l, p["noise_conv"]["kernel"], p["noise_conv"]["bias"])
    if fusion:
        gs = sigmoid(
            temporal_conv_same(u_l, p["start_gate"]["kernel"], p["start_gate"]["bias"])
        )  # eq. 2
        ge = sigmoid(
            temporal_conv_same(u_l, p["end_gate"]["kernel"], p["end_gate"]["bias"])
        )  # eq. 3
        z_in = numpy_fuse(previous, start_enc, end_enc, gs, ge, noise)  # eq. 4
    else:
        z_in = previous + noise[:, :, None, None, :]
    hidden = leaky_relu(
        batch_norm_inference(
            conv3x3x3_same(z_in, p["conv1"]["kernel"]),
            stats["BatchNorm_0"],
            p["BatchNorm_0"],
            epsilon,
        )
    )
    residual = batch_norm_inference(
        conv3x3x3_same(hidden, p["conv2"]["kernel"]),
        stats["BatchNorm_1"],
        p["BatchNorm_1"],
        epsilon,
    )
    return leaky_relu(previous + residual)  # eq. 5


# The paper's TensorFlow epsilon and the demo's (Flax's); running variances are drawn
# small enough below that the two give different blocks.
@pytest.mark.parametrize("epsilon", [1e-3, 1e-5])
@pytest.mark.parametrize("fusion", [True, False], ids=["full", "no_fusion"])
def test_latent_block_matches_eq1_to_eq5(fusion, epsilon):
    rng = _rng(2)
    previous = rng.normal(size=(B, T, S, S, C)).astype(np.float32)
    start_enc, end_enc = (rng.normal(size=(B, S, S, C)).astype(np.float32) for _ in range(2))
    u = rng.normal(size=(B, D)).astype(np.float32)
    block = LatentBlock(fusion=fusion, batch_norm=BatchNorm(epsilon=epsilon))
    variables = block.init(jax.random.PRNGKey(0), previous, start_enc, end_enc, u, train=False)
    expected_modules = {
        "noise_projection",
        "noise_conv",
        "conv1",
        "conv2",
        "BatchNorm_0",
        "BatchNorm_1",
    } | ({"start_gate", "end_gate"} if fusion else set())
    assert set(variables["params"]) == expected_modules
    # Default init has zero biases, unit scales and running stats (0, 1), under which a
    # wrong order or a missing term can go unnoticed: randomise every value.
    flat = flax.traverse_util.flatten_dict(flax.core.unfreeze(variables))
    for i, path in enumerate(sorted(flat)):
        values = _rng(100 + i).normal(size=flat[path].shape)
        if path[-1] == "var":
            values = _rng(100 + i).uniform(0.001, 0.01, size=flat[path].shape)
        elif path[-1] == "kernel":
            values = values / np.sqrt(np.prod(flat[path].shape[:-1]))
        flat[path] = values.astype(np.float32)
    variables = flax.traverse_util.unflatten_dict(flat)

    result = block.apply(variables, previous, start_enc, end_enc, u, train=False)
    as64 = lambda tree: jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), tree)
    expected = numpy_latent_block(
        as64(variables["params"]),
        as64(variables["batch_stats"]),
        previous.astype(np.float64),
        start_enc.astype(np.float64),
        end_enc.astype(np.float64),
        u.astype(np.float64),
        fusion,
        epsilon,
    )
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-4)
