"""Diversity (paper's Table 2): mean pairwise cosine distance among generations from the same
key frames, in the FVD (I3D) embedding space, averaged over test pairs."""

import numpy as np


def pairwise_cosine_distance(embeddings: np.ndarray) -> np.ndarray:
    """Per test pair, the mean of 1 - cos(e_i, e_j) over generations i < j.

    `embeddings`: [N, G, D], G >= 2 generations per pair of key frames. Returns [N], float64.
    """
    embeddings = np.asarray(embeddings, np.float64)
    if embeddings.ndim != 3 or embeddings.shape[1] < 2:
        raise ValueError(f"embeddings must be [N, G >= 2, D], got shape {embeddings.shape}")
    unit = embeddings / np.linalg.norm(embeddings, axis=-1, keepdims=True)
    cosine = np.einsum("ngd,nhd->ngh", unit, unit)
    num_generations = embeddings.shape[1]
    upper = np.triu_indices(num_generations, k=1)
    return np.mean(1.0 - cosine[:, upper[0], upper[1]], axis=-1)


def diversity(embeddings: np.ndarray) -> float:
    """Mean over test pairs of `pairwise_cosine_distance`; `embeddings` [N, G, D]."""
    return float(np.mean(pairwise_cosine_distance(embeddings)))
