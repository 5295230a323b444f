"""TFDS builders of the datasets, by the names the CLI and the configs use."""

import os

from inbetweening.data.builders import bair, common, folder, kth, ucf101
from inbetweening.data.errors import DatasetError

BUILDERS = {
    "bair": bair.BairRobotPushing,
    "kth": kth.KthActions,
    "ucf101": ucf101.Ucf101,
    "folder": folder.VideoFolder,
}


def make_builder(
    dataset: str, data_dir: str, image_size: int, folder_path: str | None = None
) -> common.VideoBuilder:
    """The builder of `dataset` at `image_size`; `folder_path` is the root for "folder".

    Raises:
        DatasetError: an unknown dataset, or "folder" without a folder (config fields named:
            the prepare command line's flags leave no other way to get here).
    """
    if dataset not in BUILDERS:
        raise DatasetError(
            f"config.data.name={dataset!r}: no such dataset; known: synthetic, "
            f"{', '.join(BUILDERS)}"
        )
    if dataset == "folder":
        if not folder_path:
            raise DatasetError(
                "dataset 'folder' needs config.data.folder, the folder of the videos"
            )
        config = folder.config_for_folder(folder_path, image_size)
    else:
        config = common.config_for_size(image_size)
    return BUILDERS[dataset](data_dir=os.path.expanduser(data_dir), config=config)
