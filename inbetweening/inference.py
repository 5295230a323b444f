"""In-betweens from a trained generator (inference: batch norm uses running averages)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from inbetweening.models import Generator
from inbetweening.pixels import to_model_range, to_uint8


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


def generator_variables(state) -> dict:
    """The variables that sample, of a train.TrainState or of a checkpoint restored as
    dicts: the moving average of the generator's weights (the weights themselves in
    checkpoints written before it existed) with the running batch statistics."""
    fields = state if isinstance(state, dict) else vars(state)
    params = fields.get("g_ema_params", fields["g_params"])
    return {"params": params, "batch_stats": fields["g_batch_stats"]}


def sample_inbetweens(
    generator: Generator,
    variables,
    start: np.ndarray,
    end: np.ndarray,
    num_samples: int,
    key: jax.Array,
    noise: jax.Array | None = None,
) -> np.ndarray:
    """start, end: uint8 [B, H, W, C] -> uint8 videos [B, num_samples, T, H, W, C]; frames 0
    and T-1 of every video are `start` and `end`. The noise u is drawn from `key`
    (draw_noise) unless given, [B, num_samples, D]."""
    if noise is None:
        noise = draw_noise(key, len(start), num_samples, generator.noise_dim)
    return to_uint8(_generate(generator, variables, start, end, noise))
