"""Host-side batches of uint8 videos [B_local, T, H, W, C] for training and sampling."""
from typing import Iterator

import ml_collections
import numpy as np

from inbetweening.data import synthetic

# Synthetic videos used for samples and evaluation come from indices no training run
# reaches (500k steps of batch 32 use indices below 2**24).
SYNTHETIC_HELD_OUT_OFFSET = 2**40


class DatasetNotPreparedError(ValueError):
    """The config names a dataset that has no prepared copy under config.data.data_dir."""


def _synthetic_videos(config: ml_collections.ConfigDict, indices) -> np.ndarray:
    m = config.model
    return synthetic.generate_batch(config.data.seed, indices, m.num_frames, m.image_size,
                                    m.image_size, m.image_channels)


def train_batches(config: ml_collections.ConfigDict, start_step: int, process_index: int,
                  process_count: int) -> Iterator[np.ndarray]:
    """This process's share of each global training batch, from `start_step` on.

    Batch s of the synthetic data is videos s*B .. (s+1)*B - 1, so a resumed run sees
    exactly the data an uninterrupted one would.
    """
    if config.data.name != "synthetic":
        raise DatasetNotPreparedError(
            f"dataset {config.data.name!r} is not prepared under {config.data.data_dir}: "
            "this version trains on config.data.name='synthetic' only")
    local_batch = config.batch_size // process_count
    step = start_step
    while True:
        first = step * config.batch_size + process_index * local_batch
        yield _synthetic_videos(config, range(first, first + local_batch))
        step += 1


def held_out_videos(config: ml_collections.ConfigDict, count: int) -> np.ndarray:
    """`count` fixed videos not used for training, for sample grids: uint8 [N, T, H, W, C]."""
    if config.data.name != "synthetic":
        raise DatasetNotPreparedError(
            f"dataset {config.data.name!r} is not prepared under {config.data.data_dir}: "
            "this version trains on config.data.name='synthetic' only")
    return _synthetic_videos(config, range(SYNTHETIC_HELD_OUT_OFFSET,
                                           SYNTHETIC_HELD_OUT_OFFSET + count))
