"""Prepared datasets as records read by index: ArrayRecord files and each video's length.

A dataset is stored by TFDS in the ArrayRecord format (`file_format="array_record"`), whose
files serve any example by its index, so that a training step's clips are read without
reading those of the steps before it. Videos of varying length (UCF101, folders) also have
their frame counts in the dataset's metadata (FRAME_COUNTS), so a reader knows which videos
hold T frames without reading them. A dataset prepared before (TFRecord files, read in
order only) is converted in place by `complete`, from its own files.

Every example is a serialized tf.train.Example whose video features hold one PNG per frame;
`clips_decoder` parses them and decodes only the frames asked for.
"""

import functools
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow_datasets as tfds
from absl import logging
from tensorflow_datasets.core import file_adapters

from inbetweening.data.builders import common
from inbetweening.runtime import command_line
from inbetweening.storage.paths import user_path

tf = command_line.import_tensorflow()

ARRAY_RECORD = file_adapters.FileFormat.ARRAY_RECORD
# info.metadata[FRAME_COUNTS][split][video key]: frames of each example, by index.
FRAME_COUNTS = "frame_counts"


def varying_length_keys(builder: common.VideoBuilder) -> tuple[str, ...]:
    return tuple(key for key in builder.VIDEO_KEYS if builder.info.features[key].shape[0] is None)


def is_complete(builder: common.VideoBuilder) -> bool:
    """Whether a prepared dataset can be read by index: ArrayRecord files, and the frame
    counts of its videos of varying length."""
    return builder.info.file_format == ARRAY_RECORD and (
        not varying_length_keys(builder) or FRAME_COUNTS in builder.info.metadata
    )


def frame_counts(builder: common.VideoBuilder, split: str, key: str) -> np.ndarray:
    """The number of frames of video `key` in each example of `split`: int64 `[N]`."""
    num_examples = builder.info.splits[split].num_examples
    stored_length = builder.info.features[key].shape[0]
    if stored_length is not None:
        return np.full(num_examples, stored_length, np.int64)
    return np.asarray(builder.info.metadata[FRAME_COUNTS][split][key], np.int64)


@functools.cache  # Each evaluation asks again; tracing once is enough.
def clips_decoder(
    key: str, num_frames: int, size: int, channels: int
) -> Callable[[Sequence[bytes], Sequence[int]], np.ndarray]:
    """decode(records, starts): of each serialized example, frames [start, start + T) of
    video `key`, uint8 `[N, T, S, S, C]`.

    Parsing and PNG decoding run as one TensorFlow function per batch, which decodes its
    frames in parallel and holds Python's GIL only while it is called (Pillow, tried first,
    holds it through its Python-side PNG parsing, a large share of each frame's time).
    """

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.int64)]
    )
    def decode(serialized, starts):
        frames = tf.io.parse_example(
            serialized, {key: tf.io.RaggedFeature(tf.string, row_splits_dtype=tf.int64)}
        )[key]
        # [N, T] positions in the flat list of every example's frames.
        wanted = (frames.row_starts() + starts)[:, tf.newaxis] + tf.range(
            num_frames, dtype=tf.int64
        )
        # A clip's T decodes are independent ops, which TensorFlow runs in parallel.
        clips = tf.map_fn(
            lambda pngs: tf.stack(
                [tf.io.decode_png(pngs[t], channels=channels) for t in range(num_frames)]
            ),
            tf.gather(frames.values, wanted),
            fn_output_signature=tf.TensorSpec([num_frames, size, size, channels], tf.uint8),
        )
        return clips

    concrete = decode.get_concrete_function()  # Traced once, not by each reading thread.

    def decode_clips(serialized: Sequence[bytes], starts: Sequence[int]) -> np.ndarray:
        return concrete(tf.constant(list(serialized)), tf.constant(starts, tf.int64)).numpy()

    return decode_clips


class Records(Sequence):
    """(serialized example, frames of its video) of the examples of a split at `indices`
    (their positions in the split), by position in `indices`: what the input pipeline
    draws from."""

    def __init__(self, builder: common.VideoBuilder, split: str, key: str, indices: np.ndarray):
        self._source = builder.as_data_source(
            split, deserialize_method=tfds.decode.DeserializeMethod.RAW_BYTES
        )
        self._indices = np.asarray(indices, np.int64)
        self._frame_counts = frame_counts(builder, split, key)[self._indices]

    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, position: int) -> tuple[bytes, int]:
        return self._source[int(self._indices[position])], int(self._frame_counts[position])

    def __getitems__(self, positions: Sequence[int]) -> list[tuple[bytes, int]]:
        found = self._source.__getitems__([int(self._indices[p]) for p in positions])
        return [(record, int(self._frame_counts[p])) for record, p in zip(found, positions)]


def _convert_to_array_record(builder: common.VideoBuilder) -> None:
    """Writes each TFRecord shard again as an ArrayRecord shard (the same serialized
    examples in the same order) and points the dataset's info at them."""
    info = builder.info
    for split_info in info.splits.values():
        for path in split_info.filepaths:
            target = str(path).replace(
                f".{info.file_format.file_suffix}-", f".{ARRAY_RECORD.file_suffix}-"
            )
            records = tf.data.TFRecordDataset(str(path)).as_numpy_iterator()
            file_adapters.ArrayRecordFileAdapter.write_examples(
                target, ((None, record) for record in records)
            )
    info.set_file_format(ARRAY_RECORD, override=True, override_if_initialized=True)


def _count_frames(builder: common.VideoBuilder) -> dict[str, dict[str, list[int]]]:
    keys = varying_length_keys(builder)
    counts = {}
    for split in builder.info.splits:
        records = builder.as_data_source(
            split, deserialize_method=tfds.decode.DeserializeMethod.RAW_BYTES
        )
        counts[split] = {key: [] for key in keys}
        for record in records:
            example = tf.train.Example.FromString(record).features.feature
            for key in keys:
                counts[split][key].append(len(example[key].bytes_list.value))
    return counts


def complete(builder: common.VideoBuilder) -> tuple[str, ...]:
    """Makes a prepared dataset readable by index (see `is_complete`), from its own files:
    ArrayRecord shards written from TFRecord ones (which are then removed), the frame
    counts read from the records. Returns what was done, as lines for the user.

    Safe to interrupt: the info is rewritten last, and the old shards removed after it.
    """
    if is_complete(builder):
        return ()
    notes = []
    old_shards = []
    if builder.info.file_format != ARRAY_RECORD:
        old_shards = [path for split in builder.info.splits.values() for path in split.filepaths]
        logging.info("Converting %s to ArrayRecord files", builder.data_dir)
        _convert_to_array_record(builder)
        notes.append(
            f"Converted {builder.data_dir} from TFRecord to ArrayRecord files "
            f"(read by index); removed its {len(old_shards)} TFRecord files"
        )
    if varying_length_keys(builder):
        builder.info.metadata[FRAME_COUNTS] = _count_frames(builder)
    builder.info.write_to_directory(builder.data_dir)
    for path in old_shards:
        user_path(str(path)).unlink()
    return tuple(notes)
