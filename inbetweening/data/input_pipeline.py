"""Host-side batches of uint8 videos [B_local, T, H, W, C] for training and evaluation.

The embedded synthetic dataset is generated here; prepared datasets (BAIR, KTH, UCF101,
folders) are read by tfds_input, imported only when needed because it loads TensorFlow.
"""

import collections
import concurrent.futures
import itertools
import os
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jax
import ml_collections
import numpy as np
from jax.sharding import Mesh

from inbetweening.data import synthetic
from inbetweening.data.errors import DatasetError
from inbetweening.data.process_share import local_batch_size
from inbetweening.runtime.sharding import global_batch

# Held-out synthetic videos come from indices no training run reaches (500k steps of
# batch 32 use indices below 2**24): validation from 2**40 on, test from 2**41 on.
SYNTHETIC_SPLIT_OFFSETS = {"validation": 2**40, "test": 2**41}


def _tfds_input():
    """The prepared datasets' pipeline, which needs TensorFlow, TFDS and grain (the
    package's [data] extra)."""
    try:
        from inbetweening.data import tfds_input
    except ModuleNotFoundError as error:
        if error.name is None or error.name.split(".")[0] not in (
            "tensorflow",
            "tensorflow_datasets",
            "grain",
        ):
            raise
        raise DatasetError(
            f"datasets other than the synthetic one need {error.name}: "
            "pip install 'inbetweening[data]' (or tensorflow-cpu, tensorflow-datasets "
            "and grain)"
        ) from None
    return tfds_input


def synthetic_videos(config: ml_collections.ConfigDict, indices) -> np.ndarray:
    """Videos `indices` of the config's synthetic dataset, uint8 [len(indices), T, H, W, C]."""
    m = config.model
    return synthetic.generate_batch(
        config.data.seed,
        indices,
        m.num_frames,
        m.image_size,
        m.image_size,
        m.image_channels,
        max_objects=config.data.synthetic_max_objects,
        background=config.data.synthetic_background,
    )


def train_batches(
    config: ml_collections.ConfigDict, start_step: int, process_index: int, process_count: int
) -> Iterator[np.ndarray]:
    """This process's share of each global training batch, from `start_step` on.

    Global batch s is a function of (config.data.seed, s) alone, read without the batches
    before it, and process p of P gets its rows [p*B/P, (p+1)*B/P): a resumed run sees
    exactly the data an uninterrupted one would, whatever the number of processes. Batch s
    of the synthetic data is videos s*B .. (s+1)*B - 1.
    """
    if config.data.name != "synthetic":
        return _tfds_input().train_batches(config, start_step, process_index, process_count)
    return _synthetic_train_batches(config, start_step, process_index, process_count)


def _synthetic_train_batches(config, start_step, process_index, process_count):
    local_batch = local_batch_size(config, process_count)

    def batch(step: int) -> np.ndarray:
        first = step * config.batch_size + process_index * local_batch
        return synthetic_videos(config, range(first, first + local_batch))

    return ReadAhead(batch, itertools.count(start_step), len(os.sched_getaffinity(0)))


class ReadAhead(Iterator):
    """make(i) for each of `indices` in order, made by `workers` threads off the caller's
    thread (numpy releases the GIL for its array work), at most `ahead` (default
    2 * workers) ahead of the consumer. close() (or dropping the iterator, or the
    interpreter's exit) cancels what has not started. make raising StopIteration ends
    the iteration there."""

    def __init__(
        self,
        make: Callable[[int], Any],
        indices: Iterable[int],
        workers: int,
        ahead: int | None = None,
    ):
        self._make, self._indices, self._ahead = make, iter(indices), ahead or 2 * workers
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="read")
        self._pending = collections.deque()
        # Not a method of self: the finalizer must not keep the iterator alive.
        self.close = weakref.finalize(self, _cancel, self._pool, self._pending)

    def __next__(self):
        for index in itertools.islice(self._indices, self._ahead - len(self._pending)):
            self._pending.append(self._pool.submit(self._make, index))
        if not self._pending:
            raise StopIteration
        return self._pending.popleft().result()


def _cancel(pool: concurrent.futures.ThreadPoolExecutor, pending: collections.deque) -> None:
    for future in pending:
        future.cancel()
    pool.shutdown(wait=False, cancel_futures=True)


def device_batches(
    batches: Iterator[np.ndarray], mesh: Mesh, size: int = 2, steps_per_call: int = 1
) -> Iterator[jax.Array]:
    """`batches` (this process's slices) as global arrays on `mesh` (global_batch), put on
    the devices by a thread of their own up to `size` before each is used, so the
    transfers overlap the steps and cost the loop's thread nothing (the flax examples'
    prefetch_to_device, for jit's shardings and off the loop's thread). With
    steps_per_call K > 1, each array stacks K consecutive batches [K, B, ...]."""

    def make(_):
        if steps_per_call == 1:
            return global_batch(next(batches), mesh)
        stacked = np.stack([next(batches) for _ in range(steps_per_call)])
        return global_batch(stacked, mesh, stacked=True)

    return ReadAhead(make, itertools.count(), 1, size)


def check_dataset(
    config: ml_collections.ConfigDict, splits: tuple[str, ...], process_count: int
) -> None:
    """Raises DatasetError (one line naming the dataset and the config field, before
    anything is compiled or written) when the dataset cannot serve `splits` to
    `process_count` processes; the embedded synthetic dataset has every split."""
    if config.data.name == "synthetic":
        local_batch_size(config, process_count)
    else:
        _tfds_input().check_dataset(config, splits, process_count)


def eval_batches(
    config: ml_collections.ConfigDict, split: str, process_index: int, process_count: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every example of `split` once, in a fixed order: (uint8 videos [B_local, ...],
    bool mask [B_local]); padding examples in the last batch have mask False."""
    if config.data.name != "synthetic":
        return _tfds_input().eval_batches(config, split, process_index, process_count)
    return _synthetic_eval_batches(config, split, process_index, process_count)


def _synthetic_eval_batches(config, split, process_index, process_count):
    if split not in SYNTHETIC_SPLIT_OFFSETS:
        raise DatasetError(
            f"split {split!r}: the synthetic dataset has {', '.join(SYNTHETIC_SPLIT_OFFSETS)}"
        )
    local_batch = local_batch_size(config, process_count)
    indices = np.arange(config.data.num_eval_videos) + SYNTHETIC_SPLIT_OFFSETS[split]
    shards = np.array_split(indices, process_count)
    shard = shards[process_index]
    # Every process yields as many batches as the largest shard (the first) needs.
    num_batches = -(-len(shards[0]) // local_batch)
    for batch in range(num_batches):
        chunk = shard[batch * local_batch : (batch + 1) * local_batch]
        videos = synthetic_videos(config, chunk)
        mask = np.zeros(local_batch, bool)
        mask[: len(chunk)] = True
        padding = np.zeros((local_batch - len(chunk), *videos.shape[1:]), np.uint8)
        yield np.concatenate([videos, padding]), mask


def held_out_videos(config: ml_collections.ConfigDict, count: int) -> np.ndarray:
    """The first `count` validation videos, for sample grids: uint8 [N, T, H, W, C]."""
    videos = []
    for batch, mask in eval_batches(config, "validation", 0, 1):
        videos.extend(batch[mask])
        if len(videos) >= count:
            break
    return np.stack(videos[:count])
