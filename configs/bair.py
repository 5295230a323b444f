"""BAIR robot pushing, paper settings."""

from inbetweening import paper_config


def get_config():
    config = paper_config.get_config()
    config.data.name = "bair"
    return config
