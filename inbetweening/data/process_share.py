"""Each process's share of a global batch, for both input pipelines (the synthetic one in
input_pipeline.py and the prepared datasets' in tfds_input.py)."""

import ml_collections

from inbetweening.data.errors import DatasetError


def local_batch_size(config: ml_collections.ConfigDict, process_count: int) -> int:
    """Each process's share of the global batch."""
    if config.batch_size % process_count:
        raise DatasetError(
            f"dataset {config.data.name!r}: config.batch_size={config.batch_size} is not "
            f"divisible by the {process_count} processes, which each read an equal share"
        )
    return config.batch_size // process_count
