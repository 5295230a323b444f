"""What a run's recorded config (a checkpoint's) fixes for the commands that read the run,
and what stays theirs to choose: --mode=eval takes the model, the data and the training
recipe from the checkpoint and only the evaluation's own settings from the command line;
eval.aggregate pools runs only when every compared field agrees."""

import ml_collections

from inbetweening.config.fields import flatten, set_field
from inbetweening.config.validation import ConfigError

# Fields --mode=eval takes from the command line: they steer the evaluation (which split,
# how many generations, in what batches, with what noise and bootstrap, where the data
# lies, how the same function is computed), not which model or data it evaluates.
EVALUATION_PREFIX = "eval."
FREE_IN_EVALUATION = (
    "seed",
    "batch_size",
    "data.data_dir",
    "mesh_fsdp",
    "steps_per_call",
    "model.conv_impl",
    "model.compute_dtype",
    "model.remat_latent_blocks",
)
# Fields eval.aggregate does not compare, and why; every other field of the recorded config
# (model, data, training recipe) and the evaluation's split and generations must agree.
NOT_COMPARED = {
    "seed": "the runs being pooled differ in it (launch/seeds.sh)",
    "data.data_dir": "where the data lies, not what it is",
    "mesh_fsdp": "how parameters are spread over devices: the same function",
    "steps_per_call": "how many of the same steps one call takes",
    "model.conv_impl": "another implementation of the same convolutions",
    "model.remat_latent_blocks": "recomputation in the backward pass: the same gradients",
    "log_every_steps": "reporting only",
    "sample_every_steps": "reporting only",
    "num_sample_videos": "reporting only",
    "num_samples_per_video": "reporting only",
    "checkpoints_to_keep": "which older steps stay on disk",
    "eval.quality_videos": "the training-time held-out table only",
    "eval.quality_samples": "the training-time held-out table only",
    "eval.reference_models": "models scored beside a run, not the run",
    "eval.embedding_batch_size": "I3D's batch: the same embeddings",
    "eval.num_bootstrap_resamples": "the intervals' resolution, not the values pooled",
}


def _free_in_evaluation(field: str) -> bool:
    return field.startswith(EVALUATION_PREFIX) or field in FREE_IN_EVALUATION


def evaluation_config(
    recorded: ml_collections.ConfigDict,
    command_line: ml_collections.ConfigDict,
    overrides: dict,
) -> ml_collections.ConfigDict:
    """The config --mode=eval runs with: `recorded` (the checkpoint's), with the fields free
    in evaluation taken from `command_line`. `overrides` ({"model.variant": value, ...},
    the --config.FIELD=VALUE flags given) must not contradict a recorded field that is not
    free: raises ConfigError naming the first that does."""
    recorded_fields = flatten(recorded)
    for field, value in sorted(flatten(overrides).items()):
        if _free_in_evaluation(field) or field not in recorded_fields:
            continue
        if recorded_fields[field] != value:
            raise ConfigError(
                f"--config.{field}={value!r} contradicts the checkpoint, which was trained "
                f"with {field}={recorded_fields[field]!r}: evaluation takes the model, the "
                "data and the training recipe from the checkpoint (only eval.*, seed, "
                "batch_size, data.data_dir and how the model is computed are free)"
            )
    config = ml_collections.ConfigDict(recorded.to_dict())
    chosen = flatten(command_line)
    for field, value in chosen.items():
        if _free_in_evaluation(field):
            set_field(config, field, tuple(value) if isinstance(value, list) else value)
    return config


def first_difference(a: dict, b: dict) -> tuple[str, object, object] | None:
    """(field, value in a, value in b) of the first compared field in which two flattened
    recorded configs differ, or None."""
    for field in sorted(a.keys() | b.keys()):
        if field in NOT_COMPARED:
            continue
        if a.get(field) != b.get(field):
            return field, a.get(field), b.get(field)
    return None
