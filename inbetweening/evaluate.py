"""--mode=eval: the paper's protocol (eval/protocol.py) on a work directory's best
checkpoint and on the reference methods, written to WORKDIR/eval."""

import json
import os

import jax
import ml_collections

from inbetweening import api
from inbetweening.configuration import validate
from inbetweening.eval import aggregate, fvd, protocol, tables
from inbetweening.eval.validation import model_method, split_videos
from inbetweening.visualize import write_atomically


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """--mode=eval: the best checkpoint of `workdir` and the reference methods on
    config.eval.split; writes workdir/eval/results.json and results.md, and the raw values
    for eval.aggregate in raw.json."""
    validate(config, jax.device_count())
    model = api.Inbetweener.load(workdir)
    real = split_videos(config, config.eval.split)
    methods = {
        f"model ({model.model_config.variant})": (
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
    raw = {
        "settings": aggregate.settings_of(config),
        "methods": {name: metrics.pop("raw") for name, metrics in results.items()},
    }
    out = os.path.join(workdir, "eval")
    os.makedirs(out, exist_ok=True)
    write_atomically(aggregate.raw_path(workdir), (json.dumps(raw) + "\n").encode())
    write_atomically(
        os.path.join(out, "results.json"),
        (json.dumps({"title": title, "results": results}, indent=2) + "\n").encode(),
    )
    table = tables.markdown_table(
        results,
        title,
        f"{len(real)} test videos; 95% bootstrap intervals. Reference methods "
        "are deterministic: one generation, diversity 0.",
    )
    write_atomically(os.path.join(out, "results.md"), table.encode())
    print(table)
    return results
