"""UCF101, paper settings."""
from configs import base


def get_config():
    config = base.get_config()
    config.data.name = "ucf101"
    return config
