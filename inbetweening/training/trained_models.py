"""Trained generators: read from a training work directory (its best intact checkpoint) or
from a `params` export, and written as one. The user API (api.Inbetweener), evaluation,
export and the reference models beside a training run all load them here."""

import dataclasses
import functools

import ml_collections
import orbax.checkpoint as ocp
from absl import logging
from etils import epath

from inbetweening.config.migration import migrate, migrate_model, stack_latent_blocks
from inbetweening.models import Generator, create_models
from inbetweening.storage.paths import read_json, user_path, write_json
from inbetweening.training.checkpoints import (
    CheckpointNotFoundError,
    TrainingCheckpoints,
    checkpoint_dir,
)

# Layout of a `params` export (inbetweening.export --format=params); a shipped model
# (pretrained/<name>/) also has TRAINING_FILE: how it was trained, and its held-out table.
MODEL_CONFIG_FILE = "model_config.json"
VARIABLES_DIR = "variables"
TRAINING_FILE = "training.json"


def generator_variables(state) -> dict:
    """The variables that sample, of a train.TrainState or of a checkpoint restored as
    dicts: the moving average of the generator's weights where the run keeps one (decay
    above 0), else the weights themselves, with the running batch statistics."""
    fields = state if isinstance(state, dict) else vars(state)
    params = fields.get("g_ema_params")
    if params is None:
        params = fields["g_params"]
    return {"params": params, "batch_stats": fields["g_batch_stats"]}


@dataclasses.dataclass
class TrainedGenerator:
    """A generator's config and variables ({"params", "batch_stats"}: the weights that
    sample, with the running batch statistics); training_info: how it was trained
    ({"steps", "config", ...}), {} when unknown."""

    model_config: ml_collections.ConfigDict
    variables: dict
    training_info: dict = dataclasses.field(default_factory=dict)

    @functools.cached_property
    def generator(self) -> Generator:
        return create_models(self.model_config).generator

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of the frames the model was trained on."""
        m = self.model_config
        return m.image_size, m.image_size, m.image_channels

    @classmethod
    def load(cls, path: epath.PathLike):
        """From a training work directory (its best checkpoint: lowest validation FVD, else
        the latest; the newest intact one when that one is damaged) or a `params` export.
        Raises CheckpointNotFoundError naming `path`."""
        directory = user_path(path)
        if (directory / MODEL_CONFIG_FILE).is_file():
            training_file = directory / TRAINING_FILE
            return cls(
                migrate_model(read_json(directory / MODEL_CONFIG_FILE)),
                stack_latent_blocks(ocp.StandardCheckpointer().restore(directory / VARIABLES_DIR)),
                read_json(training_file) if training_file.is_file() else {},
            )
        if not checkpoint_dir(directory).is_dir():
            raise CheckpointNotFoundError(
                f"{path}: neither a work directory with checkpoints/ nor a params export "
                f"(with {MODEL_CONFIG_FILE})"
            )
        checkpoints = TrainingCheckpoints(directory, keep=1, read_only=True)
        if not checkpoints.all_steps():
            raise CheckpointNotFoundError(
                f"{checkpoint_dir(directory)} holds no complete checkpoint"
            )
        step, state, meta = checkpoints.restore_raw_intact()
        logging.info("Loaded %s step %d", checkpoints.directory, step)
        config = migrate(meta["config"])
        return cls(
            config.model, generator_variables(state), {"steps": step, "config": config.to_dict()}
        )

    def write_params(self, out: epath.PathLike) -> None:
        """A `params` export at `out` (which must not exist): the variables, the model
        config, and TRAINING_FILE when training_info is known."""
        out = user_path(out)
        out.mkdir(parents=True)
        checkpointer = ocp.StandardCheckpointer()
        checkpointer.save(out / VARIABLES_DIR, self.variables)
        checkpointer.wait_until_finished()
        write_json(out / MODEL_CONFIG_FILE, self.model_config.to_dict())
        if self.training_info:
            write_json(out / TRAINING_FILE, self.training_info)
