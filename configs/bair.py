"""BAIR robot pushing, paper settings."""
from configs import base


def get_config():
    config = base.get_config()
    config.data.name = "bair"
    return config
