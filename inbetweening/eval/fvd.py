"""Frechet Video Distance: I3D embeddings (sharded, batched) and the CLI.

`python -m inbetweening.eval.fvd --real=A --fake=B` prints one JSON object
`{"fvd": ..., "num_real": ..., "num_fake": ...}`. A and B are .npy/.npz arrays [N, T, H, W, C]
or folders of videos (see `video_inputs.py`): uint8 means 0..255, float means [-1, 1].
Bad input: a one-line message on stderr and exit code 2.
"""

import json
import math
import time
from typing import Callable

import jax
import numpy as np
from absl import flags, logging
from jax.sharding import Mesh

from inbetweening.eval import frechet, i3d, i3d_weights, preprocess, video_inputs
from inbetweening.runtime import command_line, sharding
from inbetweening.runtime.command_line import user_error

# frechet_video_distance embeds 16 videos at a time; results do not depend on it.
DEFAULT_BATCH_SIZE = 16
MIN_VIDEOS = 2  # unbiased covariances divide by N - 1

EmbedFn = Callable[[np.ndarray], np.ndarray]


def _round_up(n: int, multiple: int) -> int:
    return math.ceil(n / multiple) * multiple


def i3d_embedding_fn(
    variables: dict | None = None,
    model: i3d.I3D = i3d.I3D(),
    mesh: Mesh | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    frame_size: tuple[int, int] = preprocess.I3D_FRAME_SIZE,
) -> EmbedFn:
    """Returns embed(videos [N, T, H, W, C] uint8 or float in [-1, 1]) -> [N, classes] float32.

    `variables`: defaults to the pretrained Kinetics-400 weights. Each batch is split over the
    mesh's "data" axis (by default this process's devices: in a multi-process job each
    process embeds its own videos); `batch_size` is rounded up to a multiple of the device
    count and the last batch is padded, its padding dropped. `frame_size` other than
    224x224 is only for small test models. Build it once and reuse it: each new function
    compiles the I3D again.
    """
    if variables is None:
        variables = i3d_weights.load_i3d_variables()
    mesh = mesh or sharding.data_mesh(jax.local_devices())
    num_devices = mesh.shape[sharding.DATA_AXIS]
    batch_size = _round_up(batch_size, num_devices)
    batch_sharding = sharding.batch_sharding(mesh)
    variables = jax.device_put(variables, sharding.replicated(mesh))

    @jax.jit
    def embed_batch(variables, videos):
        frames = preprocess.to_i3d_input(videos, frame_size)
        return jax.lax.with_sharding_constraint(model.apply(variables, frames), batch_sharding)

    def embed(videos: np.ndarray) -> np.ndarray:
        num_videos = len(videos)
        # Fewer videos than a batch: do not compute (mostly) padding.
        call_batch_size = min(batch_size, _round_up(num_videos, num_devices))
        embeddings = []
        start_time = time.monotonic()
        for start in range(0, num_videos, call_batch_size):
            batch = videos[start : start + call_batch_size]
            num_padding = call_batch_size - len(batch)
            batch = np.pad(batch, [(0, num_padding)] + [(0, 0)] * (batch.ndim - 1))
            batch_embeddings = embed_batch(variables, jax.device_put(batch, batch_sharding))
            embeddings.append(np.asarray(batch_embeddings)[: call_batch_size - num_padding])
            done = start + len(embeddings[-1])
            logging.info(
                "I3D embeddings: %d/%d videos (%.1f s)",
                done,
                num_videos,
                time.monotonic() - start_time,
            )
        return np.concatenate(embeddings)

    return embed


def fvd(real_videos: np.ndarray, fake_videos: np.ndarray, embed: EmbedFn) -> float:
    """FVD of videos [N, T, H, W, C] and [M, T, H, W, C] (N, M >= 2) under `embed`."""
    return frechet.frechet_distance(embed(real_videos), embed(fake_videos))


def _load_inputs(real_path: str, fake_path: str) -> tuple[np.ndarray, np.ndarray]:
    real = video_inputs.load_videos(real_path, f"--real={real_path}")
    fake = video_inputs.load_videos(fake_path, f"--fake={fake_path}")
    for videos, name in ((real, f"--real={real_path}"), (fake, f"--fake={fake_path}")):
        if len(videos) < MIN_VIDEOS:
            raise video_inputs.VideoInputError(
                f"{name}: {len(videos)} video(s); FVD needs at least {MIN_VIDEOS}"
            )
        if i3d.num_pooled_frames(videos.shape[1]) < 1:
            raise video_inputs.VideoInputError(
                f"{name}: {videos.shape[1]} frames are too few for I3D"
            )
    if real.shape[1:] != fake.shape[1:]:
        raise video_inputs.VideoInputError(
            f"--fake={fake_path}: videos are [T, H, W, C] = {list(fake.shape[1:])} but "
            f"--real={real_path} has {list(real.shape[1:])}; they must match"
        )
    return real, fake


def run(real_path: str, fake_path: str, make_embed_fn: Callable[[], EmbedFn]) -> int:
    """Checks the inputs, then prints the JSON result; returns the process exit code.

    `make_embed_fn` is called only after the inputs pass their checks.
    """
    try:
        real, fake = _load_inputs(real_path, fake_path)
        embed = make_embed_fn()
    except (video_inputs.VideoInputError, i3d_weights.I3DWeightsError) as e:
        return user_error(str(e))
    result = {"fvd": fvd(real, fake, embed), "num_real": len(real), "num_fake": len(fake)}
    print(json.dumps(result))
    return 0


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        return user_error(f"unexpected arguments {argv[1:]}")
    for flag in ("real", "fake"):
        if not getattr(FLAGS, flag):
            return user_error(f"--{flag} is required")
    return run(FLAGS.real, FLAGS.fake, lambda: i3d_embedding_fn(batch_size=FLAGS.batch_size))


FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("real", None, "Real videos: .npy/.npz [N, T, H, W, C] or a folder.")
    flags.DEFINE_string("fake", None, "Generated videos, same form and frame shape as --real.")
    flags.DEFINE_integer("batch_size", DEFAULT_BATCH_SIZE, "Videos per I3D batch.")


def cli() -> None:
    """Console-script entry point (setup.cfg); also `python -m inbetweening.eval.fvd`."""
    define_flags()
    command_line.run(main)


if __name__ == "__main__":
    cli()
