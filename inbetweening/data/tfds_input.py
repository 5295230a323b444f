"""Input pipeline over the prepared datasets: numpy uint8 batches `[B_local, T, H, W, C]`.

TensorFlow serves tf.data only and is kept off the GPUs. Each process reads its own
disjoint shard of a split (`tfds.split_for_jax_process`), so B_local = batch_size //
process_count. Frames are stored one PNG each; only the T sampled frames are decoded.
"""

import math
from collections.abc import Iterator

import ml_collections
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from inbetweening.data import builders
from inbetweening.data.builders import common
from inbetweening.data.errors import DatasetError, DatasetNotPreparedError

# Clips held for shuffling; 1024 clips of 16x64x64x3 take about 200 MB.
DEFAULT_SHUFFLE_BUFFER = 1024


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


def _prepared_builder(config: ml_collections.ConfigDict) -> common.VideoBuilder:
    builder = builders.make_builder(
        config.data.name,
        config.data.data_dir,
        config.model.image_size,
        folder_path=config.data.get("folder"),
    )
    if not builder.is_prepared():
        raise DatasetNotPreparedError(
            f"Dataset {config.data.name!r} is not prepared in {config.data.data_dir} "
            f"(looked for {builder.data_dir}). Prepare it once with:\n"
            f"  {preparation_command(config)}"
        )
    if builder.CHANNELS != config.model.image_channels:
        raise ValueError(
            f"Dataset {config.data.name!r} has {builder.CHANNELS} channels but "
            f"config.model.image_channels is {config.model.image_channels}."
        )
    return builder


def _video_key(config: ml_collections.ConfigDict, builder: common.VideoBuilder) -> str:
    """The feature holding the videos to read: the camera for BAIR, else the only one.

    Raises:
        ValueError: an unknown camera, or stored videos of a fixed length shorter than T.
    """
    key = builder.VIDEO_KEYS[0]
    if len(builder.VIDEO_KEYS) > 1:
        key = config.data.get("camera", key)
        if key not in builder.VIDEO_KEYS:
            raise ValueError(
                f"config.data.camera must be one of {builder.VIDEO_KEYS}, got {key!r}."
            )
    # Caught here because the training pipeline would otherwise filter out every video
    # and wait forever for the first batch.
    stored_length = builder.info.features[key].shape[0]
    if stored_length is not None and stored_length < config.model.num_frames:
        raise ValueError(
            f"Dataset {config.data.name!r} stores {stored_length}-frame videos, "
            f"fewer than config.model.num_frames={config.model.num_frames}."
        )
    return key


def _process_seed(seed: int, process_index: int) -> int:
    """A seed of its own for each process, so the processes shuffle independently."""
    return int(np.random.SeedSequence([seed, process_index]).generate_state(1)[0])


def _encoded_videos(builder, split, video_key: str, shuffle_seed: int | None) -> tf.data.Dataset:
    """Per example, the PNG-encoded frames `[T_video]` (tf.string) of `video_key`."""
    dataset = builder.as_dataset(
        split=split,
        shuffle_files=shuffle_seed is not None,
        decoders={key: tfds.decode.SkipDecoding() for key in builder.VIDEO_KEYS},
        read_config=tfds.ReadConfig(shuffle_seed=shuffle_seed, try_autocache=False),
    )
    return dataset.map(lambda example: example[video_key])


def _decode_frames(encoded_frames: tf.Tensor, start: tf.Tensor, config) -> tf.Tensor:
    """Decodes frames [start, start + T) of `encoded_frames` into uint8 `[T, S, S, C]`."""
    num_frames, size, channels = (
        config.model.num_frames,
        config.model.image_size,
        config.model.image_channels,
    )
    frames = tf.map_fn(
        lambda png: tf.io.decode_png(png, channels=channels),
        encoded_frames[start : start + num_frames],
        fn_output_signature=tf.TensorSpec([None, None, channels], tf.uint8),
    )
    return tf.ensure_shape(frames, [num_frames, size, size, channels])


def _local_batch_size(config: ml_collections.ConfigDict, process_count: int) -> int:
    if config.batch_size % process_count:
        raise ValueError(
            f"batch_size {config.batch_size} is not divisible by the {process_count} processes."
        )
    return config.batch_size // process_count


def check_splits(config: ml_collections.ConfigDict, splits: tuple[str, ...]) -> None:
    _check_splits(config, _prepared_builder(config), splits)


def _check_splits(config, builder: common.VideoBuilder, splits: tuple[str, ...]) -> None:
    missing = [split for split in splits if split not in builder.info.splits]
    if missing:
        raise DatasetError(
            f"Dataset {config.data.name!r} has no {' or '.join(map(repr, missing))} split "
            f"(it has {', '.join(builder.info.splits) or 'none'}): no usable video fell into "
            "it when it was prepared. Add videos, or longer ones, and prepare it again."
        )


def train_batches(
    config: ml_collections.ConfigDict, start_step: int, process_index: int, process_count: int
) -> Iterator[np.ndarray]:
    """Endless shuffled batches of random T-frame sub-sequences: uint8 `[B_local, T, S, S, C]`.

    Deterministic for a given config.data.seed and process. A run resumed at `start_step`
    skips the batches it has seen (they are decoded again, which costs time but keeps the
    data order exactly that of an uninterrupted run).
    """
    hide_gpus_from_tensorflow()
    builder = _prepared_builder(config)
    _check_splits(config, builder, ("train",))
    batch_size = _local_batch_size(config, process_count)
    split = tfds.split_for_jax_process(
        "train", process_index=process_index, process_count=process_count
    )
    if builder.info.splits[split].num_examples == 0:
        raise ValueError(f"Process {process_index} of {process_count} has no training examples.")
    seed = _process_seed(config.data.seed, process_index)
    num_frames = config.model.num_frames

    def random_sub_sequence(index, encoded_frames):
        last_start = tf.shape(encoded_frames, out_type=tf.int64)[0] - num_frames
        start = tf.random.stateless_uniform(
            [],
            seed=tf.stack([tf.constant(seed, tf.int64), index]),
            maxval=last_start + 1,
            dtype=tf.int64,
        )
        return _decode_frames(encoded_frames, start, config)

    dataset = _encoded_videos(builder, split, _video_key(config, builder), shuffle_seed=seed)
    dataset = dataset.filter(lambda encoded_frames: tf.shape(encoded_frames)[0] >= num_frames)
    # The example's index keys its crop, which keeps crops deterministic.
    dataset = dataset.repeat().enumerate()
    dataset = dataset.map(
        random_sub_sequence, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    dataset = dataset.shuffle(config.data.get("shuffle_buffer", DEFAULT_SHUFFLE_BUFFER), seed=seed)
    dataset = dataset.batch(batch_size, drop_remainder=True).skip(start_step)
    return iter(tfds.as_numpy(dataset.prefetch(tf.data.AUTOTUNE)))


def eval_batches(
    config: ml_collections.ConfigDict, split: str, process_index: int, process_count: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every example of `split` once, as its centre T-frame sub-sequence, in a fixed order.

    Yields:
        (videos uint8 `[B_local, T, S, S, C]`, mask bool `[B_local]`): the last batches are
        padded with zero videos whose mask is False, so that every process yields the same
        number of batches.
    """
    hide_gpus_from_tensorflow()
    builder = _prepared_builder(config)
    _check_splits(config, builder, (split,))
    batch_size = _local_batch_size(config, process_count)
    shards = [
        tfds.split_for_jax_process(split, process_index=index, process_count=process_count)
        for index in range(process_count)
    ]
    largest_shard = max(builder.info.splits[shard].num_examples for shard in shards)
    num_examples = math.ceil(largest_shard / batch_size) * batch_size
    num_frames = config.model.num_frames

    def centre_sub_sequence(encoded_frames):
        length = tf.shape(encoded_frames)[0]
        tf.debugging.assert_greater_equal(
            length, num_frames, message=f"A {split} video is shorter than num_frames={num_frames}"
        )
        return _decode_frames(encoded_frames, (length - num_frames) // 2, config), True

    size, channels = config.model.image_size, config.model.image_channels
    padding = tf.data.Dataset.from_tensors(
        (tf.zeros([num_frames, size, size, channels], tf.uint8), False)
    ).repeat()
    dataset = _encoded_videos(
        builder, shards[process_index], _video_key(config, builder), shuffle_seed=None
    )
    dataset = dataset.map(
        centre_sub_sequence, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    dataset = dataset.concatenate(padding).take(num_examples)
    dataset = dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return iter(tfds.as_numpy(dataset))
