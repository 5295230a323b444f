"""The networks' normalisations: batch norm after every 2D and 3D convolution of the
generator (E, G_Z, G_V), layer norm in the discriminators (Appendix A)."""

import dataclasses

import jax
from flax import linen as nn


@dataclasses.dataclass(frozen=True)
class BatchNorm:
    """The generator's batch-norm settings: `momentum` is the running averages' decay per
    training step; the paper's TensorFlow layers had 0.99 and epsilon 1e-3."""

    momentum: float = 0.99
    epsilon: float = 1e-3

    def __call__(self, train: bool, dtype, scale_init=nn.initializers.ones) -> nn.BatchNorm:
        """A batch-norm layer with output in `dtype` (flax computes the statistics in
        float32 whatever the input's dtype)."""
        return nn.BatchNorm(
            use_running_average=not train,
            momentum=self.momentum,
            epsilon=self.epsilon,
            dtype=dtype,
            scale_init=scale_init,
        )


def layer_norm(x: jax.Array, epsilon: float) -> jax.Array:
    """Each example normalised over all its positions and channels, with a learned
    per-channel scale and offset (tf.contrib.layers.layer_norm's axes), output in x's dtype
    (flax computes the statistics in float32 whatever that is)."""
    return nn.LayerNorm(
        epsilon=epsilon, reduction_axes=tuple(range(1, x.ndim)), feature_axes=-1, dtype=x.dtype
    )(x)
