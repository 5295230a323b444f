"""Dotted field names ("model.frame_head") of configs and recorded configs."""

import ml_collections


def flatten(config) -> dict:
    """{"section.field": value} of a ConfigDict or dict, tuples as lists (as JSON has them)."""
    config = config.to_dict() if isinstance(config, ml_collections.ConfigDict) else config
    flat = {}
    for name, value in config.items():
        if isinstance(value, dict):
            flat.update({f"{name}.{k}": v for k, v in flatten(value).items()})
        else:
            flat[name] = list(value) if isinstance(value, tuple) else value
    return flat


def get_field(config, field: str):
    node = config
    for part in field.split("."):
        node = node[part]
    return node


def set_field(config: ml_collections.ConfigDict, field: str, value) -> None:
    *parents, leaf = field.split(".")
    node = config
    for parent in parents:
        node = node[parent]
    node[leaf] = value
