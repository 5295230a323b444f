"""The user's own videos: --config.data.folder=DIR (videos or folders of frames).

Prepare once with: python -m inbetweening.data.prepare --dataset=folder --manual_dir=DIR
--data_dir=DATA_DIR
"""

from inbetweening.config import paper


def get_config():
    config = paper.get_config()
    config.data.name = "folder"
    config.data.folder = ""
    return config
