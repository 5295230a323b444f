"""The user's own videos: --config.data.folder=DIR (videos or folders of frames).

Prepare once with: python -m inbetweening.data.prepare --dataset=folder --manual_dir=DIR
--data_dir=DATA_DIR
"""

from inbetweening import paper_config


def get_config():
    config = paper_config.get_config()
    config.data.name = "folder"
    config.data.folder = ""
    return config
