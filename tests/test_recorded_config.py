"""What a run's recorded config fixes for --mode=eval (config/recorded.py), and the
migration of configs recorded by earlier versions (config/migration.py)."""

import ml_collections
import pytest

from configs import base, demo
from inbetweening.config.migration import ADDED_MODEL_FIELDS, migrate
from inbetweening.config.recorded import evaluation_config, flatten
from inbetweening.config.validation import ConfigError
from inbetweening.models import create_models


def _recorded():
    """A demo run trained as the naive baseline at 32 pixels, seed 3."""
    config = demo.get_config()
    config.model.variant, config.seed = "naive", 3
    return config


def test_the_model_data_and_recipe_come_from_the_checkpoint():
    command_line = base.get_config()  # another config file, none of the run's settings
    command_line.eval.num_generations, command_line.batch_size = 5, 64
    config = evaluation_config(_recorded(), command_line, {})
    assert config.model.variant == "naive" and config.model.image_size == 32
    assert config.reconstruction_weight == 10.0 and config.model.frame_head == "voxel_flow"
    # Only what steers the evaluation is the command line's.
    assert config.eval.num_generations == 5 and config.batch_size == 64 and config.seed == 0
    assert config.model.conv_impl == command_line.model.conv_impl


@pytest.mark.parametrize(
    "field, value",
    [
        ("model.variant", "full"),
        ("model.image_size", 64),
        ("data.name", "kth"),
        ("reconstruction_weight", 0.0),
    ],
)
def test_an_override_that_contradicts_the_checkpoint_names_the_field(field, value):
    with pytest.raises(ConfigError, match=rf"--config\.{field}={value!r} contradicts"):
        evaluation_config(_recorded(), demo.get_config(), {field: value})


def test_overrides_that_agree_or_steer_the_evaluation_pass():
    overrides = {"model.variant": "naive", "eval.split": "validation", "batch_size": 4}
    command_line = demo.get_config()
    command_line.eval.split, command_line.batch_size = "validation", 4
    config = evaluation_config(_recorded(), command_line, overrides)
    assert config.eval.split == "validation" and config.batch_size == 4


def test_a_config_recorded_before_the_newer_fields_builds_the_model_it_trained():
    """A checkpoint's config from before the fields of ADDED_MODEL_FIELDS (and the training
    fields) existed: migrated once, it builds the model it was trained with."""
    recorded = demo.get_config().to_dict()
    for field in ADDED_MODEL_FIELDS:
        del recorded["model"][field]
    for field in (
        "objective",
        "reconstruction_weight",
        "generator_ema_decay",
        "discriminator_learning_rate",
    ):
        del recorded[field]
    config = migrate(recorded)
    models = create_models(config.model)
    assert models.generator.frame_head == "pixels" and not models.generator.key_frame_skips
    assert models.image_discriminator.shortcut == "previous_layer"
    assert models.generator.batch_norm.epsilon == 1e-5
    assert models.image_discriminator.layer_norm_epsilon == 1e-6
    assert config.reconstruction_weight == 0.0 and config.generator_ema_decay == 0.0
    assert config.discriminator_learning_rate == config.learning_rate
    assert isinstance(config, ml_collections.ConfigDict)


def test_flatten_names_every_field_with_dots():
    flat = flatten(demo.get_config())
    assert flat["model.encoder_channels"] == [16, 16, 32, 32, 64, 64]
    assert flat["gradient_penalty.form"] == "real" and "model" not in flat
