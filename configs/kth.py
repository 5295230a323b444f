"""KTH actions (grayscale), paper settings."""

from inbetweening.config import paper


def get_config():
    config = paper.get_config()
    config.data.name = "kth"
    config.model.image_channels = 1
    return config
