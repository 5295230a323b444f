"""Frechet distance between two sets of embeddings, as tensorflow-gan computes it.

Reproduces `tfgan.eval.frechet_classifier_distance_from_activations` (which FVD calls) in
NumPy float64: unbiased covariances, and trace(sqrtm(sigma_a sigma_b)) through
`trace_sqrt_product` with SVD square roots that leave singular values below 1e-10 unrooted.
"""

import numpy as np

# tensorflow-gan's `_symmetric_matrix_square_root` default.
SQRT_EPSILON = 1e-10


def symmetric_matrix_square_root(matrix: np.ndarray, eps: float = SQRT_EPSILON) -> np.ndarray:
    """Square root of a symmetric PSD matrix [D, D] via SVD, as tensorflow-gan takes it."""
    u, s, vt = np.linalg.svd(matrix)
    # sqrt is unstable around 0: tfgan keeps such singular values as they are.
    s_root = np.where(s < eps, s, np.sqrt(s))
    return (u * s_root) @ vt


def trace_sqrt_product(sigma: np.ndarray, sigma_v: np.ndarray) -> np.ndarray:
    """trace(sqrtm(sigma @ sigma_v)) for symmetric PSD [D, D] matrices.

    sqrt(sigma) sigma_v sqrt(sigma) is symmetric and similar to sigma sigma_v, so it has the
    same eigenvalues, and its symmetric square root exists.
    """
    sqrt_sigma = symmetric_matrix_square_root(sigma)
    return np.trace(symmetric_matrix_square_root(sqrt_sigma @ sigma_v @ sqrt_sigma))


def _covariance(x: np.ndarray, mean: np.ndarray) -> np.ndarray:
    centered = x - mean
    return centered.T @ centered / (len(x) - 1)


def frechet_distance(real: np.ndarray, generated: np.ndarray) -> float:
    """|m - m_w|^2 + trace(C + C_w - 2 sqrtm(C C_w)) of embeddings [N, D] and [M, D], float64.

    Needs N, M >= 2 (unbiased covariances divide by N - 1).
    """
    real = np.asarray(real, np.float64)
    generated = np.asarray(generated, np.float64)
    if real.ndim != 2 or generated.ndim != 2 or real.shape[1] != generated.shape[1]:
        raise ValueError(
            f"embeddings must be [N, D] and [M, D], got {real.shape}, {generated.shape}"
        )
    if min(len(real), len(generated)) < 2:
        raise ValueError(
            f"need at least 2 embeddings per set, got {len(real)} and {len(generated)}"
        )
    mean_real, mean_generated = real.mean(axis=0), generated.mean(axis=0)
    sigma = _covariance(real, mean_real)
    sigma_w = _covariance(generated, mean_generated)
    trace = np.trace(sigma + sigma_w) - 2.0 * trace_sqrt_product(sigma, sigma_w)
    return float(trace + np.sum(np.square(mean_real - mean_generated)))
