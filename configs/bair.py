"""BAIR robot pushing, paper settings."""

from inbetweening.config import paper


def get_config():
    config = paper.get_config()
    config.data.name = "bair"
    return config
