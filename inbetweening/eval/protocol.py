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
Three reference methods need no training (middle_frames.REFERENCES): a cross-fade between
the key frames, the start frame repeated for the first half then the end frame, and
optical-flow interpolation of the key frames (eval/flow_interpolation.py).
"""

from typing import Callable

import jax
import numpy as np

from inbetweening.eval import (
    aggregate,
    bootstrap,
    diversity,
    frechet,
    middle_frames,
    ssim,
    tables,
)

Method = Callable[[np.ndarray, np.ndarray, jax.Array], np.ndarray]


def reference_methods(num_frames: int) -> dict[str, tuple[Method, int]]:
    """Deterministic methods, so one generation round each."""
    return {
        label: (lambda s, e, key, method=method: method(s, e, num_frames), 1)
        for label, method in middle_frames.REFERENCES.values()
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
        best_ssims = np.maximum(best_ssims, ssim.best_ssim(videos[:, None], real))
        del videos  # before the next round is made: one round in memory at a time
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
