"""TFDS builders of the datasets, by the names the CLI and the configs use."""

import os

from inbetweening.data.builders import bair, common, folder, kth, ucf101

BUILDERS = {
    "bair": bair.BairRobotPushing,
    "kth": kth.KthActions,
    "ucf101": ucf101.Ucf101,
    "folder": folder.VideoFolder,
}


def make_builder(
    dataset: str, data_dir: str, image_size: int, folder_path: str | None = None
) -> common.VideoBuilder:
    """The builder of `dataset` at `image_size`; `folder_path` is the root for "folder"."""
    if dataset not in BUILDERS:
        raise ValueError(f"Unknown dataset {dataset!r}; known: {', '.join(BUILDERS)}")
    if dataset == "folder":
        if not folder_path:
            raise ValueError("The folder dataset needs the path of the video folder.")
        config = folder.config_for_folder(folder_path, image_size)
    else:
        config = common.config_for_size(image_size)
    return BUILDERS[dataset](data_dir=os.path.expanduser(data_dir), config=config)
