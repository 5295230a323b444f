"""Configs recorded by earlier versions (a checkpoint's meta, a params export's
model_config.json) lack the fields added since. Each is filled once, where a recorded
config is read, with the value the model was trained with before the field existed, so
that the model factory and the train step read every field directly."""

import ml_collections

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
