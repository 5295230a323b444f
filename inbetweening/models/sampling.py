"""In-betweens from a trained generator (inference: batch norm uses running averages): the
one sampler that training's evaluations, --mode=eval, the probe, the tools and the API
share. It generates in calls of a bounded number of videos, each call split over the
devices of a mesh."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from inbetweening.data.pixels import to_model_range, to_uint8
from inbetweening.models.generator import Generator
from inbetweening.runtime.sharding import DATA_AXIS, batch_sharding, data_mesh, replicated


@functools.partial(jax.jit, static_argnames=("generator",))
def _generate(generator: Generator, variables, start, end, noise):
    """start, end: uint8 [B, H, W, C]; noise [B, S, D] -> videos [B, S, T, H, W, C]."""
    batch, num_samples = noise.shape[:2]
    repeat = lambda frames: jnp.repeat(to_model_range(frames), num_samples, axis=0)
    videos = generator.apply(
        variables, repeat(start), repeat(end), noise.reshape(batch * num_samples, -1), train=False
    )
    return videos.reshape(batch, num_samples, *videos.shape[1:])


def draw_noise(key: jax.Array, batch: int, num_samples: int, noise_dim: int) -> jax.Array:
    """Standard normal noise u [batch, num_samples, noise_dim]."""
    return jax.random.normal(key, (batch, num_samples, noise_dim))


def sample_inbetweens(
    generator: Generator,
    variables,
    start: np.ndarray,
    end: np.ndarray,
    num_samples: int,
    key: jax.Array | None = None,
    noise: jax.Array | None = None,
    *,
    videos_per_call: int | None = None,
    mesh: Mesh | None = None,
) -> np.ndarray:
    """start, end: uint8 [B, H, W, C] -> uint8 videos [B, num_samples, T, H, W, C]; frames
    0 and T-1 of every video are `start` and `end`.

    The noise u [B, num_samples, D] is drawn from `key` (draw_noise) unless given, so the
    videos do not depend on how they are split into calls. At most `videos_per_call`
    videos (at least one pair of key frames) are generated per call, so memory stays
    bounded for any B; each call's pairs are split over the "data" axis of `mesh` (default:
    the first local device), padded to a multiple of its size.
    """
    if noise is None:
        noise = draw_noise(key, len(start), num_samples, generator.noise_dim)
    mesh = mesh or data_mesh(jax.local_devices()[:1])
    devices = mesh.shape[DATA_AXIS]
    pairs = len(start) if videos_per_call is None else max(1, videos_per_call // num_samples)
    pairs = -(-min(pairs, len(start)) // devices) * devices
    variables = jax.device_put(variables, replicated(mesh))
    place = lambda x: jax.device_put(np.asarray(x), batch_sharding(mesh))
    videos = None  # filled call by call: a list of calls' videos would double the peak
    for first in range(0, len(start), pairs):
        count = min(pairs, len(start) - first)
        padded = lambda x: _pad(np.asarray(x[first : first + count]), pairs)
        call = _generate(generator, variables, *map(place, map(padded, (start, end, noise))))
        if videos is None:
            videos = np.empty((len(start), *call.shape[1:]), np.uint8)
        videos[first : first + count] = to_uint8(call)[:count]
    return videos


def _pad(x: np.ndarray, size: int) -> np.ndarray:
    """x [n, ...] with zeros appended along the first axis up to `size`."""
    return np.pad(x, [(0, size - len(x))] + [(0, 0)] * (x.ndim - 1))
