"""The "fast" and "xla" convolutions are one function of the same parameters, and both
match the textbook definitions written out tap by tap in numpy."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from inbetweening.models.convolutions import strided_conv, upsampling_conv
from inbetweening.models.layers import Conv, ConvTranspose

# Every strided / up-sampling layer shape the model uses (Appendix A and the naive
# baseline), on tiny inputs: (x shape, kernel shape, strides, padding).
STRIDED_CASES = {
    "2d_k4_s2_p1 (encoder, image discriminator)": (
        (2, 8, 6, 3),
        (4, 4, 3, 5),
        (2, 2),
        ((1, 1), (1, 1)),
    ),
    "3d_k4_s122_p011 (video discriminator)": (
        (2, 6, 8, 4, 2),
        (4, 4, 4, 2, 3),
        (1, 2, 2),
        ((0, 0), (1, 1), (1, 1)),
    ),
}
UPSAMPLING_CASES = {
    "3d_k344_s122_p1 (video generator)": ((2, 3, 4, 3, 3), (3, 4, 4, 3, 2), (1, 2, 2), (1, 1, 1)),
    "3d_k4_s2_p1 (naive baseline)": ((2, 2, 3, 4, 2), (4, 4, 4, 2, 3), (2, 2, 2), (1, 1, 1)),
}
# The stride-1 layers (G_Z, G_V, encoder L1, D_I L1 and shortcut), whose fast form carries
# its own gradient: (x shape, kernel shape, padding).
STRIDE1_CASES = {
    "3d_k3_p1 (latent and video generator)": ((2, 4, 3, 5, 2), (3, 3, 3, 2, 3), ((1, 1),) * 3),
    "2d_k1_p0 (shortcut)": ((2, 4, 6, 3), (1, 1, 3, 2), ((0, 0), (0, 0))),
    "3d_k422_valid (folded video discriminator)": ((2, 6, 4, 4, 3), (4, 2, 2, 3, 2), "VALID"),
}
# float32 convolutions summed in different orders by the two forms.
TOLERANCE = dict(rtol=1e-5, atol=1e-5)


def _random(shape, seed):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def numpy_strided_conv(x, kernel, strides, padding):
    """out[i] = sum_k xpad[s * i + k] w[k] (cross-correlation, as every CNN library)."""
    ndim = len(strides)
    xp = np.pad(x.astype(np.float64), [(0, 0), *padding, (0, 0)])
    ksize = kernel.shape[:ndim]
    out_size = [(n - k) // s + 1 for n, k, s in zip(xp.shape[1:-1], ksize, strides)]
    out = np.zeros((x.shape[0], *out_size, kernel.shape[-1]))
    for tap in itertools.product(*(range(k) for k in ksize)):
        window = tuple(slice(t, t + s * (o - 1) + 1, s) for t, s, o in zip(tap, strides, out_size))
        out += np.einsum("...c,cd->...d", xp[(slice(None), *window)], kernel[tap])
    return out


def numpy_transposed_conv(x, kernel, strides, padding):
    """Scatter form of a transposed convolution: input position i adds x[i] w'[k] to output
    position s * i + k - p, output size (n - 1) s - 2p + k (Appendix A, PyTorch's p).

    w' is the kernel flipped on every spatial axis: the layers store the kernel the way an
    input-dilated cross-correlation reads it (lax.conv_general_dilated with lhs_dilation),
    which is the adjoint of a strided convolution with the flipped kernel. (A kernel from
    TensorFlow's conv3d_transpose would need this flip to be loaded.)
    """
    ndim = len(strides)
    ksize = kernel.shape[:ndim]
    flipped = kernel[tuple(slice(None, None, -1) for _ in ksize)]
    full = [(n - 1) * s + k for n, s, k in zip(x.shape[1:-1], strides, ksize)]
    out = np.zeros((x.shape[0], *full, kernel.shape[-1]))
    for tap in itertools.product(*(range(k) for k in ksize)):
        target = tuple(
            slice(t, t + s * (n - 1) + 1, s) for t, s, n in zip(tap, strides, x.shape[1:-1])
        )
        out[(slice(None), *target)] += np.einsum(
            "...c,cd->...d", x.astype(np.float64), flipped[tap]
        )
    crop = tuple(slice(p, f - p) for p, f in zip(padding, full))
    return out[(slice(None), *crop)]


def _value_and_grads(fn, x, kernel, cotangent):
    out, pullback = jax.vjp(fn, x, kernel)
    return (out, *pullback(cotangent))


def _assert_same_function(fn, x, kernel):
    fast = lambda a, w: fn(a, w, "fast")
    xla = lambda a, w: fn(a, w, "xla")
    cotangent = _random(jax.eval_shape(xla, x, kernel).shape, seed=7)
    for fast_value, xla_value, what in zip(
        _value_and_grads(fast, x, kernel, cotangent),
        _value_and_grads(xla, x, kernel, cotangent),
        ("output", "input gradient", "kernel gradient"),
    ):
        np.testing.assert_allclose(fast_value, xla_value, **TOLERANCE, err_msg=what)


@pytest.mark.parametrize("name", STRIDED_CASES)
def test_strided_conv_fast_equals_xla_with_gradients(name):
    x_shape, k_shape, strides, padding = STRIDED_CASES[name]
    _assert_same_function(
        lambda a, w, impl: strided_conv(a, w, strides, padding, impl),
        _random(x_shape, 0),
        _random(k_shape, 1),
    )


@pytest.mark.parametrize("name", UPSAMPLING_CASES)
def test_upsampling_conv_fast_equals_xla_with_gradients(name):
    x_shape, k_shape, strides, padding = UPSAMPLING_CASES[name]
    _assert_same_function(
        lambda a, w, impl: upsampling_conv(a, w, strides, padding, impl),
        _random(x_shape, 2),
        _random(k_shape, 3),
    )


@pytest.mark.parametrize("name", STRIDE1_CASES)
def test_stride1_conv_fast_equals_xla_with_gradients(name):
    x_shape, k_shape, padding = STRIDE1_CASES[name]
    strides = (1,) * (len(k_shape) - 2)
    _assert_same_function(
        lambda a, w, impl: strided_conv(a, w, strides, padding, impl),
        _random(x_shape, 13),
        _random(k_shape, 14),
    )


def _penalty_gradients(conv):
    """Gradients of a gradient penalty |d/dx sum(tanh(conv(x, w)))|^2 with respect to x and
    w: the second derivatives the discriminator update takes."""

    def penalty(x, kernel):
        input_gradient = jax.grad(lambda a: jnp.sum(jnp.tanh(conv(a, kernel))))(x)
        return jnp.sum(input_gradient**2)

    return jax.jit(jax.grad(penalty, argnums=(0, 1)))


SECOND_ORDER_CASES = {
    **{
        name: (x_shape, k_shape, (1,) * (len(k_shape) - 2), padding)
        for name, (x_shape, k_shape, padding) in STRIDE1_CASES.items()
    },
    **STRIDED_CASES,
}


@pytest.mark.parametrize("name", SECOND_ORDER_CASES)
def test_fast_conv_second_derivatives_equal_xla(name):
    x_shape, k_shape, strides, padding = SECOND_ORDER_CASES[name]
    x, kernel = _random(x_shape, 15), _random(k_shape, 16)
    fast, xla = (
        _penalty_gradients(lambda a, w, impl=impl: strided_conv(a, w, strides, padding, impl))
        for impl in ("fast", "xla")
    )
    for fast_value, xla_value, what in zip(fast(x, kernel), xla(x, kernel), ("input", "kernel")):
        # Sums of products of three random tensors: rounding scales with the largest value.
        np.testing.assert_allclose(
            fast_value,
            xla_value,
            rtol=1e-4,
            atol=1e-5 * np.abs(xla_value).max(),
            err_msg=f"penalty gradient for the {what}",
        )


@pytest.mark.parametrize("name", STRIDED_CASES)
@pytest.mark.parametrize("impl", ["fast", "xla"])
def test_strided_conv_matches_numpy_definition(name, impl):
    x_shape, k_shape, strides, padding = STRIDED_CASES[name]
    x, kernel = _random(x_shape, 4), _random(k_shape, 5)
    np.testing.assert_allclose(
        strided_conv(x, kernel, strides, padding, impl),
        numpy_strided_conv(x, kernel, strides, padding),
        **TOLERANCE,
    )


@pytest.mark.parametrize("name", UPSAMPLING_CASES)
@pytest.mark.parametrize("impl", ["fast", "xla"])
def test_upsampling_conv_matches_numpy_definition(name, impl):
    x_shape, k_shape, strides, padding = UPSAMPLING_CASES[name]
    x, kernel = _random(x_shape, 6), _random(k_shape, 7)
    expected = numpy_transposed_conv(x, kernel, strides, padding)
    sizes = [
        (n - 1) * s - 2 * p + k for n, s, p, k in zip(x_shape[1:-1], strides, padding, k_shape)
    ]
    assert expected.shape == (x_shape[0], *sizes, k_shape[-1])
    np.testing.assert_allclose(
        upsampling_conv(x, kernel, strides, padding, impl), expected, **TOLERANCE
    )


def test_upsampling_conv_is_adjoint_of_strided_conv_with_flipped_kernel():
    """<conv(y), x> = <y, conv_transpose(x)>: ties the transposed layer to the strided one
    (kernel flipped on its spatial axes, C_in and C_out swapped)."""
    strides, padding = (2, 2, 2), (1, 1, 1)
    x = _random((1, 2, 3, 2, 3), 8)
    kernel = _random((4, 4, 4, 3, 2), 9)
    up = upsampling_conv(x, kernel, strides, padding, "fast")
    y = _random(up.shape, 10)
    adjoint_kernel = np.flip(kernel, axis=(0, 1, 2)).swapaxes(-1, -2)
    down = numpy_strided_conv(y, adjoint_kernel, strides, [(p, p) for p in padding])
    np.testing.assert_allclose(np.vdot(down, x), np.vdot(y, np.asarray(up, np.float64)), rtol=1e-4)


@pytest.mark.parametrize(
    "module,cases,name",
    [(Conv, STRIDED_CASES, name) for name in STRIDED_CASES]
    + [(ConvTranspose, UPSAMPLING_CASES, name) for name in UPSAMPLING_CASES],
)
def test_conv_modules_fast_equal_xla(module, cases, name):
    x_shape, k_shape, strides, padding = cases[name]
    x = _random(x_shape, 11)
    make = lambda impl: module(
        k_shape[-1], k_shape[:-2], strides=strides, padding=padding, conv_impl=impl
    )
    params = make("fast").init(jax.random.PRNGKey(0), x)
    assert params["params"]["kernel"].shape == k_shape
    _assert_same_function(
        lambda a, w, impl: make(impl).apply({"params": {"kernel": w}}, a),
        x,
        np.asarray(params["params"]["kernel"]),
    )


def test_fast_strided_conv_rejects_odd_padded_size_naming_the_axis():
    x, kernel = jnp.zeros((1, 8, 7, 1)), jnp.zeros((4, 4, 1, 1))
    with pytest.raises(ValueError, match="axis 1"):
        strided_conv(x, kernel, (2, 2), ((1, 1), (1, 1)), "fast")


def test_fast_strided_conv_rejects_stride_three_naming_the_axis():
    x, kernel = jnp.zeros((1, 9, 8, 1)), jnp.zeros((3, 4, 1, 1))
    with pytest.raises(ValueError, match="axis 0"):
        strided_conv(x, kernel, (3, 2), ((0, 0), (1, 1)), "fast")


def test_fast_transposed_conv_rejects_other_kernels_naming_the_axis():
    x, kernel = jnp.zeros((1, 2, 3, 3, 1)), jnp.zeros((3, 3, 4, 1, 1))
    with pytest.raises(ValueError, match="axis 1"):
        upsampling_conv(x, kernel, (1, 2, 2), (1, 1, 1), "fast")
