"""Configs recorded by earlier versions (a checkpoint's meta, a params export's
model_config.json) lack the fields added since. Each is filled once, where a recorded
config is read, with the value the model was trained with before the field existed, so
that the model factory and the train step read every field directly.

Parameter trees of earlier versions are converted the same way, once, where a checkpoint
or a params export is read: stack_latent_blocks."""

import re
from typing import Any, Iterable, Mapping

import jax
import ml_collections
import numpy as np

# Model fields added after the first checkpoints, with the behaviour before them.
ADDED_MODEL_FIELDS = {
    "compute_dtype": "float32",
    "remat_latent_blocks": False,
    "batch_norm_momentum": 0.99,
    "batch_norm_epsilon": 1e-5,
    "layer_norm_epsilon": 1e-6,
    "latent_blocks_start_as_identity": False,
    "key_frame_skips": False,
    "frame_head": "pixels",
    # Models trained before the field read Appendix A's shortcut this way.
    "image_discriminator_shortcut": "previous_layer",
}
# Training fields added after the first checkpoints, with the behaviour before them.
ADDED_TRAINING_FIELDS = {
    "objective": "adversarial",
    "reconstruction_weight": 0.0,
    "reconstruction_samples": 1,
    "init_generator_from": "",
    "generator_ema_decay": 0.0,
    "image_discriminator_frames": "one",
    "mismatched_key_frames": False,
    "discriminator_learning_rate": None,  # None: the generator's rate, as the paper's one
    "steps_per_call": 1,
}


def migrate_model(model: dict) -> ml_collections.ConfigDict:
    """A recorded model config (dict or ConfigDict) with every field the code reads."""
    model = dict(model.to_dict() if isinstance(model, ml_collections.ConfigDict) else model)
    for field, value in ADDED_MODEL_FIELDS.items():
        model.setdefault(field, value)
    return ml_collections.ConfigDict(model)


def migrate(config: dict) -> ml_collections.ConfigDict:
    """A whole recorded config (a checkpoint's) with every field the code reads."""
    config = dict(config.to_dict() if isinstance(config, ml_collections.ConfigDict) else config)
    for field, value in ADDED_TRAINING_FIELDS.items():
        config.setdefault(field, value)
    if config["discriminator_learning_rate"] is None:
        config["discriminator_learning_rate"] = config["learning_rate"]
    config["model"] = migrate_model(config["model"]).to_dict()
    return ml_collections.ConfigDict(config)


# G_Z's blocks as earlier versions named them, unrolled: LatentBlock_0..LatentBlock_{L-1}.
UNROLLED_LATENT_BLOCK = re.compile(r"LatentBlock_(\d+)")
LATENT_LEVELS = 3


def has_unrolled_latent_blocks(paths: Iterable[str]) -> bool:
    """Whether any of `paths` ("g_params/LatentGenerator_0/LatentBlock_0/conv1/kernel")
    names an unrolled block: a tree that stack_latent_blocks must convert."""
    return any(UNROLLED_LATENT_BLOCK.fullmatch(part) for path in paths for part in path.split("/"))


def stack_latent_blocks(tree: Any) -> Any:
    """`tree` (nested mappings and lists: a generator's params or batch statistics, Adam's
    mu / nu, a whole TrainState restored as dicts) with every mapping that holds G_Z's unrolled
    blocks LatentBlock_0..LatentBlock_{L-1} given the scanned layout instead: "level_k"
    with the arrays of blocks kL/3..(k+1)L/3-1 stacked, in order, along a new leading
    axis (models/latent_generator.py), as numpy arrays; every other leaf as it was, so
    trees without unrolled blocks come back equal."""
    if isinstance(tree, (list, tuple)):
        converted = [stack_latent_blocks(subtree) for subtree in tree]
        return type(tree)(*converted) if hasattr(tree, "_fields") else type(tree)(converted)
    if not isinstance(tree, Mapping):
        return tree
    blocks = {}
    converted = {}
    for name, subtree in tree.items():
        match = UNROLLED_LATENT_BLOCK.fullmatch(name)
        if match:
            blocks[int(match.group(1))] = subtree
        else:
            converted[name] = stack_latent_blocks(subtree)
    if not blocks:
        return converted
    count = len(blocks)
    if sorted(blocks) != list(range(count)) or count % LATENT_LEVELS:
        raise ValueError(
            f"latent blocks {sorted(blocks)}: expected LatentBlock_0..LatentBlock_{{L-1}} "
            f"with L a multiple of {LATENT_LEVELS}"
        )
    per_level = count // LATENT_LEVELS
    for level in range(LATENT_LEVELS):
        members = [blocks[index] for index in range(level * per_level, (level + 1) * per_level)]
        converted[f"level_{level}"] = jax.tree.map(
            lambda *arrays: np.stack([np.asarray(a) for a in arrays]), *members
        )
    return converted
