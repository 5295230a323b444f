"""A trained generator as an evaluation method, and the validation FVD that selects
checkpoints during training (Section 4.1: "the one with the lowest FVD on the validation
set"), for one or many processes."""

import jax
import ml_collections
import numpy as np
from jax.experimental import multihost_utils

from inbetweening.data import input_pipeline
from inbetweening.eval import frechet, fvd
from inbetweening.eval.protocol import Method
from inbetweening.models.sampling import sample_inbetweens
from inbetweening.runtime.sharding import data_mesh


def split_videos(config: ml_collections.ConfigDict, split: str, limit: int = 0) -> np.ndarray:
    """The videos of `split` (this process's shard), uint8 [N, T, H, W, C]: the first
    `limit` of them (0: all), reading no batch past them."""
    batches = input_pipeline.eval_batches(config, split, jax.process_index(), jax.process_count())
    parts, count = [], 0
    for videos, mask in batches:
        parts.append(videos[mask])
        count += len(parts[-1])
        if limit and count >= limit:
            break
    return np.concatenate(parts)[: limit or None]


def model_method(generator, variables, batch_size: int) -> Method:
    """One generation round of a trained generator: `batch_size` test pairs per call, each
    call split over this process's devices (each device generates its share once)."""
    mesh = data_mesh(jax.local_devices())
    return lambda start, end, key: sample_inbetweens(
        generator, variables, start, end, 1, key, videos_per_call=batch_size, mesh=mesh
    )[:, 0]


def gather_rows(rows: np.ndarray) -> np.ndarray:
    """Every process's rows [N_p, ...], concatenated in process order, on every process
    (shards may differ in length)."""
    if jax.process_count() == 1:
        return rows
    counts = multihost_utils.process_allgather(np.array(len(rows)))
    padded = np.zeros((counts.max(), *rows.shape[1:]), rows.dtype)
    padded[: len(rows)] = rows
    gathered = multihost_utils.process_allgather(padded)
    return np.concatenate([shard[:count] for shard, count in zip(gathered, counts)])


class ValidationFVD:
    """FVD of one generation round on the validation split, for checkpoint selection.

    The I3D and the real videos' embeddings are prepared once, at construction. In a
    multi-process job each process generates and embeds its own shard of the split on its
    own devices; the embeddings are gathered, so every process computes the same FVD over
    the whole split (and the processes agree on the best checkpoint).
    """

    def __init__(self, config: ml_collections.ConfigDict):
        self._embed = fvd.i3d_embedding_fn(batch_size=config.eval.embedding_batch_size)
        self._real = split_videos(config, "validation")
        self._real_embeddings = gather_rows(self._embed(self._real))
        self._batch_size = config.batch_size

    def __call__(self, generator, variables, key: jax.Array) -> float:
        if jax.process_count() > 1:
            # Generation runs on this process's devices: it needs the whole parameters.
            variables = multihost_utils.process_allgather(variables, tiled=True)
            key = jax.random.fold_in(key, jax.process_index())
        method = model_method(generator, variables, self._batch_size)
        generated = method(self._real[:, 0], self._real[:, -1], key)
        return frechet.frechet_distance(self._real_embeddings, gather_rows(self._embed(generated)))
