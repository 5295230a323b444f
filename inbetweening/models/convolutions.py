"""Convolutions with two exactly equivalent implementations, chosen by `conv_impl`.

`"xla"` calls XLA's strided / input-dilated convolution directly. `"fast"` rewrites the
same function with stride-1 convolutions and space-to-depth / depth-to-space
rearrangements. Both read the same `kernel` parameter ([*K, C_in, C_out]), so a checkpoint
trained with one runs with the other. The rewrite exists because XLA:CPU runs a transposed
convolution with stride 2 about 10x slower than a plain convolution, and the input
gradient of a strided convolution (needed by the gradient penalty and by the generator's
gradient through the discriminators) about 500x slower. The fast form's stride-1
convolutions also carry their own gradient (`stride1_conv`), because XLA:CPU lowers the
kernel gradient that autodiff writes to a slow path (1-2 GFLOP/s) inside the train step.
"""

import functools
import itertools
from typing import Sequence

import jax
import jax.numpy as jnp
from jax import lax

CONV_IMPLS = ("fast", "xla")
Padding = Sequence[tuple[int, int]]


def _dimension_numbers(ndim: int) -> lax.ConvDimensionNumbers:
    spatial = "DHW"[-ndim:]
    return lax.conv_dimension_numbers(
        (1,) * (ndim + 2), (1,) * (ndim + 2), (f"N{spatial}C", f"{spatial}IO", f"N{spatial}C")
    )


def _conv(x: jax.Array, kernel: jax.Array, padding, lhs_dilation=None, strides=None):
    ndim = kernel.ndim - 2
    return lax.conv_general_dilated(
        x,
        kernel,
        window_strides=strides or (1,) * ndim,
        padding=padding,
        lhs_dilation=lhs_dilation,
        dimension_numbers=_dimension_numbers(ndim),
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def stride1_conv(
    x: jax.Array, kernel: jax.Array, padding: tuple[tuple[int, int], ...]
) -> jax.Array:
    """Stride-1 zero-padded convolution whose gradients take XLA:CPU's fast paths.

    x: [B, *S, C_in]; kernel: [*K, C_in, C_out]; padding: (low, high) per spatial axis.
    The input gradient is again a `stride1_conv` (flipped kernel, C_in and C_out swapped),
    so second derivatives (the gradient penalty) stay on this path too. The kernel
    gradient is one matmul per tap, contracting the cotangent [B, *S', C_out] with the
    padded input shifted by the tap over B and S'.
    """
    return _conv(x, kernel, padding)


def _stride1_conv_forward(x, kernel, padding):
    return _conv(x, kernel, padding), (x, kernel)


def _stride1_conv_backward(padding, residuals, cotangent):
    x, kernel = residuals
    ndim = kernel.ndim - 2
    kernel_size = kernel.shape[:ndim]
    adjoint = jnp.flip(kernel, tuple(range(ndim))).swapaxes(-1, -2)
    x_cotangent = stride1_conv(
        cotangent,
        adjoint,
        tuple((k - 1 - low, k - 1 - high) for k, (low, high) in zip(kernel_size, padding)),
    )
    padded = jnp.pad(x, [(0, 0), *padding, (0, 0)])
    window = (x.shape[0], *cotangent.shape[1:-1], x.shape[-1])
    summed = list(range(ndim + 1))

    def tap_gradient(tap):
        """[C_out, C_in]; the cotangent comes first so that XLA:CPU transposes it once
        for all taps instead of transposing every shifted input."""
        shifted = lax.dynamic_slice(padded, (0, *tap, 0), window)
        return lax.dot_general(
            cotangent, shifted, ((summed, summed), ((), ())), preferred_element_type=jnp.float32
        )

    # A loop over taps, not unrolled: unrolled, XLA keeps every shifted copy of the input
    # alive at once, 27x the activation for a 3x3x3 kernel.
    taps = jnp.array(list(itertools.product(*(range(k) for k in kernel_size))))
    kernel_cotangent = lax.map(tap_gradient, taps).swapaxes(-1, -2).reshape(kernel.shape)
    return x_cotangent, kernel_cotangent.astype(kernel.dtype)


stride1_conv.defvjp(_stride1_conv_forward, _stride1_conv_backward)


def _static_padding(padding, ndim: int) -> tuple[tuple[int, int], ...]:
    if padding == "VALID":
        return ((0, 0),) * ndim
    return tuple((int(low), int(high)) for low, high in padding)


def strided_conv(
    x: jax.Array, kernel: jax.Array, strides: Sequence[int], padding: Padding, impl: str
) -> jax.Array:
    """Zero-padded convolution with strides of 1 or 2 per axis.

    x: [B, *S, C_in]; kernel: [*K, C_in, C_out]; padding: (low, high) per spatial axis.
    The fast form pads, folds each stride-2 axis into channels (space-to-depth) and folds
    the kernel the same way: out[i] = sum_k xp[2i + k] w[k] = sum_{q, r} xp2[i + q, r] w[2q + r].
    """
    if impl == "xla":
        return _conv(x, kernel, padding, strides=strides)
    if all(s == 1 for s in strides):
        return stride1_conv(x, kernel, _static_padding(padding, len(strides)))
    x = jnp.pad(x, [(0, 0), *padding, (0, 0)])
    ndim = len(strides)
    for axis, (size, k, s) in enumerate(zip(x.shape[1:-1], kernel.shape[:ndim], strides)):
        if s not in (1, 2) or size % s or k % s:
            raise ValueError(
                f"fast strided convolution needs stride 1 or 2 and, on stride-2 axes, an even "
                f"padded size and kernel; axis {axis} has padded size {size}, kernel {k}, "
                f"stride {s}: use conv_impl='xla'"
            )
    return stride1_conv(
        _space_to_depth(x, strides, batch_dims=1),
        _space_to_depth(kernel, strides, batch_dims=0),
        ((0, 0),) * ndim,
    )


def _space_to_depth(x: jax.Array, strides: Sequence[int], batch_dims: int) -> jax.Array:
    """[*lead, *S, *rest] -> [*lead, *(S // s), prod(s) * rest[0], *rest[1:]].

    With batch_dims=1 this folds an input [B, *S, C]; with 0 a kernel [*K, C_in, C_out],
    whose phases land in C_in in the same order as the input's land in C.
    """
    ndim = len(strides)
    lead = x.shape[:batch_dims]
    spatial = x.shape[batch_dims : batch_dims + ndim]
    rest = x.shape[batch_dims + ndim :]
    split = [d for size, s in zip(spatial, strides) for d in (size // s, s)]
    x = x.reshape(*lead, *split, *rest)
    blocks = [batch_dims + 2 * i for i in range(ndim)]
    phases = [batch_dims + 2 * i + 1 for i in range(ndim)]
    tail = list(range(batch_dims + 2 * ndim, x.ndim))
    x = x.transpose(*range(batch_dims), *blocks, *phases, *tail)
    folded = 1
    for s in strides:
        folded *= s
    return x.reshape(
        *lead, *(size // s for size, s in zip(spatial, strides)), folded * rest[0], *rest[1:]
    )


def upsampling_conv(
    x: jax.Array, kernel: jax.Array, strides: Sequence[int], padding: Sequence[int], impl: str
) -> jax.Array:
    """Transposed convolution as in Appendix A: out size = (n - 1) * s - 2p + k per axis.

    x: [B, *S, C_in]; kernel: [*K, C_in, C_out]; padding: the p of each axis. The XLA form
    dilates the input by the stride and pads by k - 1 - p. The fast form (stride-2 axes
    must have k = 4, p = 1, the paper's layers) computes both output phases of every
    stride-2 axis with one stride-1 convolution over the input padded by 1:
    out[2i + a] = sum_q xp[i + a + q] w[2q + a], then interleaves the phases.
    """
    ndim = len(strides)
    kernel_size = kernel.shape[:ndim]
    pads = tuple((k - 1 - p, k - 1 - p) for k, p in zip(kernel_size, padding))
    if impl == "xla":
        return _conv(x, kernel, pads, lhs_dilation=tuple(strides))
    if all(s == 1 for s in strides):
        return stride1_conv(x, kernel, pads)
    up_axes = [axis for axis, s in enumerate(strides) if s != 1]
    for axis in up_axes:
        if (strides[axis], kernel_size[axis], padding[axis]) != (2, 4, 1):
            raise ValueError(
                f"fast transposed convolution supports stride 2 only with kernel 4 and "
                f"padding 1; axis {axis} has stride {strides[axis]}, kernel "
                f"{kernel_size[axis]}, padding {padding[axis]}: use conv_impl='xla'"
            )
    c_in, c_out = kernel.shape[-2:]
    # Split each stride-2 kernel axis into (tap q, phase a) and move the phases to C_out.
    split = [d for axis, k in enumerate(kernel_size) for d in ((2, 2) if axis in up_axes else (k,))]
    phase_positions, tap_positions, position = [], [], 0
    for axis in range(ndim):
        tap_positions.append(position)
        if axis in up_axes:
            phase_positions.append(position + 1)
            position += 2
        else:
            position += 1
    folded = kernel.reshape(*split, c_in, c_out).transpose(
        *tap_positions, position, *phase_positions, position + 1
    )
    folded = folded.reshape(*folded.shape[:ndim], c_in, (2 ** len(up_axes)) * c_out)
    pads = tuple((1, 1) if axis in up_axes else pad for axis, pad in enumerate(pads))
    phased = stride1_conv(x, folded, pads)
    phased = phased.reshape(*phased.shape[:-1], *([2] * len(up_axes)), c_out)
    for axis in up_axes:
        phased = _interleave_phases(phased, axis + 1, x.shape[axis + 1], phase_axis=ndim + 1)
    return phased


def _interleave_phases(y: jax.Array, axis: int, size: int, phase_axis: int) -> jax.Array:
    """y has length size + 1 on `axis` and 2 phases on `phase_axis` (> axis); returns
    length 2 * size on `axis` with out[2i + a] = y[i + a, phase a]."""
    # Static slices only: a gather here would make the backward pass a slow scatter.
    phases = [
        lax.slice_in_dim(lax.index_in_dim(y, a, phase_axis, keepdims=False), a, a + size, axis=axis)
        for a in (0, 1)
    ]
    stacked = jnp.stack(phases, axis=axis + 1)
    return stacked.reshape(*stacked.shape[:axis], 2 * size, *stacked.shape[axis + 2 :])
