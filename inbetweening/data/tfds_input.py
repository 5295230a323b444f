"""Input pipeline over the prepared datasets: numpy uint8 batches `[B_local, T, S, S, C]`.

The examples are read by index (data/records.py) with grain, so the global batch of a
training step is a function of (config.data.seed, step) alone: clip `g` of the endless
training sequence (global batch s holds clips s*B .. (s+1)*B - 1) is the example at
position g % N of epoch g // N's permutation (grain's index shuffle, seeded per epoch), cut
at a start drawn from (seed, g). A run resumed at step s reads only the clips of steps s
on. Process p of P takes rows [p*B/P, (p+1)*B/P) of each global batch, so batches do not
depend on the number of processes. Only the T frames of each clip are decoded, in grain's
reading threads (by TensorFlow on the CPU: the GPUs are hidden from it).

Every config check runs in `check_dataset`, before anything is compiled or written.
"""

import dataclasses
import functools
import math
import os
from collections.abc import Iterator

import grain
import ml_collections
import numpy as np
from absl import logging

from inbetweening.data import builders, records
from inbetweening.data.builders import common
from inbetweening.data.errors import DatasetError, DatasetNotPreparedError
from inbetweening.data.process_share import local_batch_size
from inbetweening.runtime import command_line

tf = command_line.import_tensorflow()


def hide_gpus_from_tensorflow() -> None:
    """Keeps TensorFlow from taking GPU memory, which belongs to JAX."""
    tf.config.set_visible_devices([], "GPU")


def preparation_command(config: ml_collections.ConfigDict) -> str:
    command = (
        f"python -m inbetweening.data.prepare --dataset={config.data.name} "
        f"--data_dir={config.data.data_dir}"
    )
    if config.data.name == "folder":
        command += f" --manual_dir={config.data.folder}"
    if config.model.image_size != common.DEFAULT_IMAGE_SIZE:
        command += f" --image_size={config.model.image_size}"
    return command


@dataclasses.dataclass(frozen=True)
class PreparedDataset:
    """A prepared dataset that passed every check: its builder, the video feature read,
    and by split the indices of the examples with at least T frames."""

    builder: common.VideoBuilder
    video_key: str
    usable: dict[str, np.ndarray]

    def examples(self, split: str) -> records.Records:
        return records.Records(self.builder, split, self.video_key, self.usable[split])

    def clips_decoder(self, config: ml_collections.ConfigDict):
        m = config.model
        return records.clips_decoder(self.video_key, m.num_frames, m.image_size, m.image_channels)


def _prepared_builder(config: ml_collections.ConfigDict) -> common.VideoBuilder:
    name = config.data.name
    builder = builders.make_builder(
        name, config.data.data_dir, config.model.image_size, folder_path=config.data.get("folder")
    )
    if not builder.is_prepared():
        raise DatasetNotPreparedError(
            f"dataset {name!r} is not prepared in config.data.data_dir={config.data.data_dir} "
            f"(looked for {builder.data_dir}); prepare it once with: {preparation_command(config)}"
        )
    if not records.is_complete(builder):
        raise DatasetError(
            f"dataset {name!r} in {builder.data_dir} was prepared by an earlier version "
            "(TFRecord files, which cannot be read by index to resume a run); convert it "
            f"in place, without its sources, with: {preparation_command(config)}"
        )
    if builder.CHANNELS != config.model.image_channels:
        raise DatasetError(
            f"dataset {name!r} has {builder.CHANNELS}-channel frames but "
            f"config.model.image_channels={config.model.image_channels}"
        )
    return builder


def _video_key(config: ml_collections.ConfigDict, builder: common.VideoBuilder) -> str:
    """The feature holding the videos to read: config.data.camera for BAIR, else the only one."""
    if len(builder.VIDEO_KEYS) == 1:
        return builder.VIDEO_KEYS[0]
    if config.data.camera not in builder.VIDEO_KEYS:
        raise DatasetError(
            f"dataset {config.data.name!r} has no camera config.data.camera="
            f"{config.data.camera!r}: it has {', '.join(builder.VIDEO_KEYS)}"
        )
    return config.data.camera


def _usable_examples(config, builder, key: str, split: str) -> np.ndarray:
    """Indices of the examples of `split` whose video has at least T frames."""
    if split not in builder.info.splits:
        raise DatasetError(
            f"dataset {config.data.name!r} has no {split!r} split (it has "
            f"{', '.join(builder.info.splits) or 'none'}): no usable video fell into it when "
            "it was prepared; add videos, or longer ones, and prepare it again"
        )
    num_frames = config.model.num_frames
    stored_length = builder.info.features[key].shape[0]
    if stored_length is not None and stored_length < num_frames:
        raise DatasetError(
            f"dataset {config.data.name!r} stores {stored_length}-frame videos, fewer than "
            f"config.model.num_frames={num_frames}"
        )
    counts = records.frame_counts(builder, split, key)
    usable = np.flatnonzero(counts >= num_frames)
    if not len(usable):
        raise DatasetError(
            f"dataset {config.data.name!r}: no {split} video has config.model.num_frames="
            f"{num_frames} frames (the longest has {counts.max()})"
        )
    if len(usable) < len(counts):
        _warn_once(
            f"dataset {config.data.name!r}: {len(counts) - len(usable)} of {len(counts)} "
            f"{split} videos have fewer than config.model.num_frames={num_frames} frames "
            "and are left out"
        )
    return usable


@functools.cache
def _warn_once(message: str) -> None:
    """The checks run at each evaluation; what they find is said once."""
    logging.warning(message)


def check_dataset(
    config: ml_collections.ConfigDict, splits: tuple[str, ...], process_count: int
) -> PreparedDataset:
    """Every check of the config against the prepared dataset it names.

    Raises:
        DatasetError: one line naming the dataset and the config field.
    """
    hide_gpus_from_tensorflow()
    local_batch_size(config, process_count)
    builder = _prepared_builder(config)
    key = _video_key(config, builder)
    usable = {split: _usable_examples(config, builder, key, split) for split in splits}
    return PreparedDataset(builder, key, usable)


def _seeds(seed: int) -> tuple[int, int]:
    """(permutation seed, crop seed) from config.data.seed: grain takes 32-bit seeds."""
    permutation, crop = np.random.SeedSequence(seed).generate_state(2)
    return int(permutation), int(crop)


def _read_options() -> grain.ReadOptions:
    """One reading thread per CPU this process may use; as many batches read ahead."""
    threads = len(os.sched_getaffinity(0))
    return grain.ReadOptions(num_threads=threads, prefetch_buffer_size=threads)


def train_batches(
    config: ml_collections.ConfigDict, start_step: int, process_index: int, process_count: int
) -> Iterator[np.ndarray]:
    """Endless shuffled batches of random T-frame sub-sequences from `start_step` on:
    this process's rows of each global batch, uint8 `[B_local, T, S, S, C]`."""
    dataset = check_dataset(config, ("train",), process_count)
    permutation_seed, crop_seed = _seeds(config.data.seed)
    num_frames = config.model.num_frames
    decode = dataset.clips_decoder(config)

    def random_start(example: tuple[bytes, int], rng: np.random.Generator) -> tuple[bytes, int]:
        record, length = example
        return record, int(rng.integers(length - num_frames + 1))

    clips = (
        grain.MapDataset.source(dataset.examples("train"))
        .shuffle(seed=permutation_seed)
        .repeat()
        .random_map(random_start, seed=crop_seed)
    )
    # Local batch k holds clips k*B_local ..; global batch s is local batches s*P .. s*P+P-1.
    local_batches = clips.batch(
        local_batch_size(config, process_count),
        batch_fn=lambda cut: decode(*zip(*cut)),
    )
    mine = local_batches[start_step * process_count + process_index :: process_count]
    return iter(mine.to_iter_dataset(_read_options()))


def eval_batches(
    config: ml_collections.ConfigDict, split: str, process_index: int, process_count: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every example of `split` with at least T frames once, as its centre T-frame
    sub-sequence, in a fixed order.

    Global batch k holds examples k*B .. (k+1)*B - 1 and process p its rows
    [p*B/P, (p+1)*B/P); the last global batch is padded with zero videos.

    Yields:
        (videos uint8 `[B_local, T, S, S, C]`, mask bool `[B_local]`, False on padding):
        every process yields the same number of batches.
    """
    dataset = check_dataset(config, (split,), process_count)
    split_records = dataset.examples(split)
    num_frames, size = config.model.num_frames, config.model.image_size
    decode = dataset.clips_decoder(config)

    def centre_cut(position: int) -> tuple[bytes, int] | None:
        """(record, start) of the example at `position`; None past the last."""
        if position >= len(split_records):
            return None
        record, length = split_records[position]
        return record, (length - num_frames) // 2

    def decode_with_padding(cuts) -> tuple[np.ndarray, np.ndarray]:
        mask = np.array([cut is not None for cut in cuts])
        videos = np.zeros(
            [len(cuts), num_frames, size, size, config.model.image_channels], np.uint8
        )
        if mask.any():
            videos[mask] = decode(*zip(*(cut for cut in cuts if cut is not None)))
        return videos, mask

    num_positions = math.ceil(len(split_records) / config.batch_size) * config.batch_size
    local_batches = (
        grain.MapDataset.range(num_positions)
        .map(centre_cut)
        .batch(
            local_batch_size(config, process_count),
            batch_fn=decode_with_padding,
        )
    )
    return iter(local_batches[process_index::process_count].to_iter_dataset(_read_options()))
