"""Clustering of unanswered questions."""

from __future__ import annotations

import numpy as np

from knowledge.gaps import central, cluster


def unit_rows(rows: list[list[float]]) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_similar_questions_share_a_cluster_largest_first() -> None:
    vectors = unit_rows(
        [[1, 0.1, 0], [0, 1, 0], [1, 0, 0.1], [1, 0.05, 0.05], [0, 1, 0.1], [0, 0, 1]]
    )
    groups = cluster(vectors, threshold=0.9)
    assert groups == [[0, 2, 3], [1, 4], [5]]


def test_central_members_come_first() -> None:
    vectors = unit_rows([[1, 0.3, 0], [1, 0, 0], [1, 0, 0.3]])
    assert central(vectors, [0, 1, 2], 1) == [1]


def test_nothing_to_cluster() -> None:
    assert cluster(np.zeros((0, 4), dtype=np.float32)) == []
