"""The user's own videos: --config.data.folder=DIR (videos or folders of frames).

Prepare once with: python -m inbetweening.data.prepare --dataset=folder --manual_dir=DIR
--data_dir=DATA_DIR
"""
from configs import base


def get_config():
    config = base.get_config()
    config.data.name = "folder"
    config.data.folder = ""
    return config
