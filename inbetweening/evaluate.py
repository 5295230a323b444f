"""The paper's evaluation protocol (Section 4.1, Tables 1-3) for any in-betweening method.

A method maps key frames and a key to one generation: (start, end uint8 [N, H, W, C], key)
-> uint8 videos [N, T, H, W, C]; it runs G times with different keys (generation rounds),
one round at a time, so memory does not grow with G. For each method:
- FVD: one FVD per generation round g (the N videos of round g against the N real test
  videos), mean over rounds, 95% bootstrap interval over rounds;
- diversity: per test pair the mean pairwise cosine distance among its G generations in
  the I3D embedding space; mean and interval over pairs (0 for deterministic methods);
- SSIM: per test example the best of its G generations (intermediate frames); mean and
  interval over examples.
Two reference methods need no training: a cross-fade between the key frames, and the
start frame repeated for the first half then the end frame.
"""

import json
import os
from typing import Callable

import jax
import ml_collections
import numpy as np
from jax.experimental import multihost_utils

from inbetweening import api
from inbetweening.configuration import validate
from inbetweening.data import input_pipeline
from inbetweening.eval import (
    aggregate,
    bootstrap,
    diversity,
    frechet,
    fvd,
    middle_frames,
    ssim,
    tables,
)
from inbetweening.inference import sample_inbetweens
from inbetweening.visualize import write_atomically

Method = Callable[[np.ndarray, np.ndarray, jax.Array], np.ndarray]


def reference_methods(num_frames: int) -> dict[str, tuple[Method, int]]:
    """Deterministic methods, so one generation round each."""
    return {
        name: (lambda s, e, key, method=method: method(s, e, num_frames), 1)
        for name, method in middle_frames.REFERENCES.items()
    }


def method_metrics(
    real: np.ndarray,
    method: Method,
    num_generations: int,
    real_embeddings: np.ndarray,
    embed: Callable[[np.ndarray], np.ndarray],
    num_resamples: int,
    key: jax.Array,
) -> dict:
    """real: uint8 [N, T, H, W, C]; real_embeddings: embed(real) [N, D].

    The summaries, and under "raw" the values they summarise (aggregate.RAW_METRICS), which
    eval.aggregate combines over training runs."""
    fvds, embeddings, best_ssims = [], [], np.full(len(real), -np.inf)
    for round_index in range(num_generations):
        videos = method(real[:, 0], real[:, -1], jax.random.fold_in(key, round_index))
        round_embeddings = embed(videos)
        fvds.append(frechet.frechet_distance(real_embeddings, round_embeddings))
        embeddings.append(round_embeddings)
        best_ssims = np.maximum(best_ssims, np.asarray(ssim.best_ssim(videos[:, None], real)))
    spreads = (
        diversity.pairwise_cosine_distance(np.stack(embeddings, axis=1))
        if num_generations > 1
        else np.zeros(len(real))
    )
    values = {"fvd": fvds, "diversity": spreads, "ssim": best_ssims}
    return {
        **{
            metric: bootstrap.mean_interval(values[metric], num_resamples)
            for metric in tables.METRICS
        },
        "num_videos": len(real),
        "num_generations": num_generations,
        "raw": {
            aggregate.RAW_METRICS[metric]: np.asarray(v, np.float64).tolist()
            for metric, v in values.items()
        },
    }


def evaluate_methods(
    real: np.ndarray,
    methods: dict[str, tuple[Method, int]],
    embed: Callable[[np.ndarray], np.ndarray],
    num_resamples: int,
    key: jax.Array,
) -> dict[str, dict]:
    """Runs every (method, number of generations) on the key frames of `real`
    (uint8 [N, T, H, W, C], N >= 2)."""
    if len(real) < 2:
        raise ValueError(f"evaluation needs at least 2 test videos, got {len(real)}")
    real_embeddings = embed(real)
    return {
        name: method_metrics(
            real,
            method,
            num_generations,
            real_embeddings,
            embed,
            num_resamples,
            jax.random.fold_in(key, index),
        )
        for index, (name, (method, num_generations)) in enumerate(methods.items())
    }


def split_videos(config: ml_collections.ConfigDict, split: str) -> np.ndarray:
    """Every video of `split` (this process's shard), uint8 [N, T, H, W, C]."""
    batches = input_pipeline.eval_batches(config, split, jax.process_index(), jax.process_count())
    return np.concatenate([videos[mask] for videos, mask in batches])


def model_method(generator, variables, batch_size: int) -> Method:
    """One generation round of a trained generator, `batch_size` test pairs at a time."""

    def generate(start: np.ndarray, end: np.ndarray, key: jax.Array) -> np.ndarray:
        chunks = [
            sample_inbetweens(
                generator,
                variables,
                start[i : i + batch_size],
                end[i : i + batch_size],
                1,
                jax.random.fold_in(key, i),
            )[:, 0]
            for i in range(0, len(start), batch_size)
        ]
        return np.concatenate(chunks)

    return generate


def gather_rows(rows: np.ndarray) -> np.ndarray:
    """Every process's rows [N_p, ...], concatenated in process order, on every process
    (shards may differ in length)."""
    if jax.process_count() == 1:
        return rows
    counts = multihost_utils.process_allgather(np.array(len(rows)))
    padded = np.zeros((counts.max(), *rows.shape[1:]), rows.dtype)
    padded[: len(rows)] = rows
    gathered = multihost_utils.process_allgather(padded)
    return np.concatenate([shard[:count] for shard, count in zip(gathered, counts)])


class ValidationFVD:
    """FVD of one generation round on the validation split, for checkpoint selection.

    The I3D and the real videos' embeddings are prepared once, at construction. In a
    multi-process job each process generates and embeds its own shard of the split on its
    own devices; the embeddings are gathered, so every process computes the same FVD over
    the whole split (and the processes agree on the best checkpoint).
    """

    def __init__(self, config: ml_collections.ConfigDict):
        self._embed = fvd.i3d_embedding_fn(batch_size=config.eval.embedding_batch_size)
        self._real = split_videos(config, "validation")
        self._real_embeddings = gather_rows(self._embed(self._real))
        self._batch_size = config.batch_size

    def __call__(self, generator, variables, key: jax.Array) -> float:
        if jax.process_count() > 1:
            # Generation runs on this process's devices: it needs the whole parameters.
            variables = multihost_utils.process_allgather(variables, tiled=True)
            key = jax.random.fold_in(key, jax.process_index())
        method = model_method(generator, variables, self._batch_size)
        generated = method(self._real[:, 0], self._real[:, -1], key)
        return frechet.frechet_distance(self._real_embeddings, gather_rows(self._embed(generated)))


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
        **reference_methods(config.model.num_frames),
    }
    embed = fvd.i3d_embedding_fn(batch_size=config.eval.embedding_batch_size)
    results = evaluate_methods(
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
