"""Knowledge gaps: questions the bot handed off or answered unhelpfully, grouped by meaning."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

SIMILARITY = 0.62
MAX_EXAMPLES = 3


@dataclass
class Cluster:
    """Questions that ask the same thing, the article closest to them and how close it is."""

    size: int
    examples: list[str]
    languages: list[str]
    handed_off: int = 0
    unhelpful: int = 0
    nearest_slug: str | None = None
    nearest_similarity: float = 0.0
    members: list[int] = field(default_factory=list)
    # every distinct question of the group with its language, the most central first
    questions: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "examples": self.examples,
            "languages": self.languages,
            "handed_off": self.handed_off,
            "unhelpful": self.unhelpful,
            "nearest_article": self.nearest_slug,
            "nearest_similarity": round(self.nearest_similarity, 3),
        }


def cluster(vectors: npt.NDArray[np.float32], threshold: float = SIMILARITY) -> list[list[int]]:
    """Group unit vectors so each member is within `threshold` cosine of its group's centroid
    (a single greedy pass, then members re-assigned to their closest centroid). Groups are
    returned largest first."""
    count = len(vectors)
    if count == 0:
        return []
    centroids: list[npt.NDArray[np.float32]] = []
    sums: list[npt.NDArray[np.float32]] = []
    assignment = np.zeros(count, dtype=np.int64)
    for i in range(count):
        v = vectors[i]
        if centroids:
            similarities = np.array([c @ v for c in centroids])
            best = int(np.argmax(similarities))
            if similarities[best] >= threshold:
                assignment[i] = best
                sums[best] = sums[best] + v
                centroids[best] = sums[best] / max(float(np.linalg.norm(sums[best])), 1e-9)
                continue
        assignment[i] = len(centroids)
        sums.append(v.copy())
        centroids.append(v.copy())
    matrix = np.vstack(centroids)
    scores = vectors @ matrix.T
    best = scores.argmax(axis=1)
    keep = scores[np.arange(count), best] >= threshold
    assignment = np.where(keep, best, assignment)
    groups: dict[int, list[int]] = {}
    for i, group in enumerate(assignment):
        groups.setdefault(int(group), []).append(i)
    return sorted(groups.values(), key=lambda members: (-len(members), members[0]))


def central(vectors: npt.NDArray[np.float32], members: Sequence[int], n: int) -> list[int]:
    """The `n` members closest to their group's centroid."""
    block = vectors[list(members)]
    centroid = block.mean(axis=0)
    order = np.argsort(-(block @ centroid), kind="stable")[:n]
    return [members[int(i)] for i in order]
