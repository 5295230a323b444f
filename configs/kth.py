"""KTH actions (grayscale), paper settings."""

from inbetweening import paper_config


def get_config():
    config = paper_config.get_config()
    config.data.name = "kth"
    config.model.image_channels = 1
    return config
