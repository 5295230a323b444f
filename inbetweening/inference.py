"""In-betweens from a trained generator (inference: batch norm uses running averages)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from inbetweening.models import Generator
from inbetweening.pixels import to_model_range, to_uint8


@functools.partial(jax.jit, static_argnames=("generator", "num_samples"))
def _generate(generator: Generator, variables, start, end, key, num_samples: int):
    batch = start.shape[0]
    noise = jax.random.normal(key, (batch * num_samples, generator.noise_dim))
    repeat = lambda frames: jnp.repeat(to_model_range(frames), num_samples, axis=0)
    videos = generator.apply(variables, repeat(start), repeat(end), noise, train=False)
    return videos.reshape(batch, num_samples, *videos.shape[1:])


def sample_inbetweens(
    generator: Generator,
    variables,
    start: np.ndarray,
    end: np.ndarray,
    num_samples: int,
    key: jax.Array,
) -> np.ndarray:
    """start, end: uint8 [B, H, W, C] -> uint8 videos [B, num_samples, T, H, W, C]; frames 0
    and T-1 of every video are `start` and `end`."""
    return to_uint8(_generate(generator, variables, start, end, key, num_samples))
