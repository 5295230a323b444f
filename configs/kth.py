"""KTH actions (grayscale), paper settings."""
from configs import base


def get_config():
    config = base.get_config()
    config.data.name = "kth"
    config.model.image_channels = 1
    return config
