"""The layers every network is built of: the paper's activation, and convolution modules
whose parameters are the same whichever implementation (convolutions.py) computes them."""

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn

from inbetweening.models.convolutions import Padding, strided_conv, upsampling_conv


def leaky_relu(x: jax.Array) -> jax.Array:
    """The paper's activation h (slope 0.2), used after every normalised convolution."""
    return nn.leaky_relu(x, negative_slope=0.2)


class _Convolution(nn.Module):
    """What both convolution modules share: a float32 `kernel` [*K, C_in, C_out] (and
    `bias` [C_out] with use_bias), cast with the input to `dtype` for the computation."""

    features: int
    kernel_size: Sequence[int]
    use_bias: bool = False
    conv_impl: str = "fast"
    dtype: Any = jnp.float32

    def convolve(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
        raise NotImplementedError

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param(
            "kernel",
            nn.initializers.lecun_normal(),
            (*self.kernel_size, x.shape[-1], self.features),
        )
        y = self.convolve(x.astype(self.dtype), kernel.astype(self.dtype))
        if self.use_bias:
            bias = self.param("bias", nn.initializers.zeros, (self.features,))
            y = y + bias.astype(self.dtype)
        return y


class Conv(_Convolution):
    """Convolution with zero padding (default: "same" for odd kernels); strides of 1 or 2.
    Input [B, *S, C_in]."""

    strides: Sequence[int] | None = None
    padding: Padding | None = None

    def convolve(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
        ndim = len(self.kernel_size)
        padding = self.padding or [((k - 1) // 2, k // 2) for k in self.kernel_size]
        return strided_conv(x, kernel, self.strides or (1,) * ndim, padding, self.conv_impl)


class ConvTranspose(_Convolution):
    """Transposed convolution of Appendix A (PyTorch-style padding p per axis). Input
    [B, *S, C_in]."""

    strides: Sequence[int] = ()
    padding: Sequence[int] = ()

    def convolve(self, x: jax.Array, kernel: jax.Array) -> jax.Array:
        return upsampling_conv(x, kernel, self.strides, self.padding, self.conv_impl)
