"""Diversity: mean pairwise cosine distance among generations, on hand-made embeddings."""

import numpy as np
import pytest

from inbetweening.eval import diversity


def test_hand_made_embeddings():
    e1, e2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    embeddings = np.stack(
        [
            np.stack([e1, 3 * e1, e2]),  # pairs: 0, 1, 1 -> 2/3
            np.stack([e1, -e1, 2 * e1]),  # pairs: 2, 0, 2 -> 4/3
        ]
    )
    np.testing.assert_allclose(diversity.pairwise_cosine_distance(embeddings), [2 / 3, 4 / 3])
    assert diversity.diversity(embeddings) == pytest.approx(1.0)


def test_identical_generations_have_no_diversity(rng):
    one = rng.normal(size=(1, 1, 400))
    assert diversity.diversity(np.repeat(one, 5, axis=1)) == pytest.approx(0.0, abs=1e-12)


def test_matches_a_loop_over_pairs(rng):
    embeddings = rng.normal(size=(3, 6, 10))
    expected = []
    for generations in embeddings:
        distances = [
            1 - a @ b / np.linalg.norm(a) / np.linalg.norm(b)
            for i, a in enumerate(generations)
            for b in generations[i + 1 :]
        ]
        expected.append(np.mean(distances))
    np.testing.assert_allclose(diversity.pairwise_cosine_distance(embeddings), expected)


def test_needs_two_generations():
    with pytest.raises(ValueError):
        diversity.diversity(np.ones((2, 1, 4)))
