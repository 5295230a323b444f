"""--mode=eval: the paper's protocol (eval/protocol.py) on a work directory's best
checkpoint and on the reference methods, written to WORKDIR/eval.

The model, the data and the training recipe come from the checkpoint's recorded config;
the command line chooses only what steers the evaluation (config/recorded.py)."""

import jax
import ml_collections

from inbetweening.api import Inbetweener
from inbetweening.config import departures
from inbetweening.config.recorded import evaluation_config, flatten
from inbetweening.config.validation import validate
from inbetweening.eval import aggregate, fvd, protocol, tables
from inbetweening.eval.validation import model_method, split_videos
from inbetweening.storage.paths import user_path, write_atomically, write_json
from inbetweening.training.checkpoints import CheckpointNotFoundError


def run(command_line: ml_collections.ConfigDict, workdir: str, overrides: dict) -> dict:
    """The best checkpoint of `workdir` and the reference methods on eval.split; writes
    workdir/eval/results.json and results.md, and the raw values for eval.aggregate in
    raw.json. `overrides`: the --config.FIELD=VALUE flags given (config/recorded.py)."""
    model = Inbetweener.load(workdir)
    if "config" not in model.training_info:
        raise CheckpointNotFoundError(f"{workdir}: --mode=eval needs a work directory")
    config = evaluation_config(
        ml_collections.ConfigDict(model.training_info["config"]), command_line, overrides
    )
    validate(config, jax.device_count())
    real = split_videos(config, config.eval.split, config.eval.num_videos)
    methods = {
        f"model ({config.model.variant})": (
            model_method(model.generator, model.variables, config.batch_size),
            config.eval.num_generations,
        ),
        **protocol.reference_methods(config.model.num_frames),
    }
    embed = fvd.i3d_embedding_fn(batch_size=config.eval.embedding_batch_size)
    results = protocol.evaluate_methods(
        real, methods, embed, config.eval.num_bootstrap_resamples, jax.random.PRNGKey(config.seed)
    )
    title = f"{config.data.name}, {config.eval.split} split"
    recorded = {
        "step": model.training_info["steps"],
        "config": flatten(config),
        "departures": departures.active(config),
    }
    out = user_path(workdir) / "eval"
    write_json(
        aggregate.raw_path(workdir),
        {**recorded, "methods": {name: metrics.pop("raw") for name, metrics in results.items()}},
    )
    write_json(out / "results.json", {"title": title, **recorded, "results": results})
    table = tables.markdown_table(
        results,
        title,
        f"{len(real)} test videos; step {recorded['step']:,} of the run; 95% bootstrap "
        "intervals. Reference methods are deterministic: one generation, diversity 0.",
    )
    write_atomically(out / "results.md", table.encode())
    print(table)
    return results
