"""How much an agent changed a draft: Levenshtein distance in characters, vectorised with numpy."""

from __future__ import annotations

import numpy as np


def edit_distance(a: str, b: str) -> int:
    """The number of single-character insertions, deletions and substitutions from `a` to `b`.

    Common prefixes and suffixes are skipped first; each row of the dynamic programme is then
    computed in numpy (the left-to-right insertion chain becomes a running minimum).
    """
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = a[start:end_a], b[start:end_b]
    if not a or not b:
        return max(len(a), len(b))
    if len(a) < len(b):
        a, b = b, a
    codes_b = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    columns = np.arange(len(b) + 1, dtype=np.int64)
    previous = columns.copy()
    for i, ch in enumerate(a, start=1):
        cost = (codes_b != ord(ch)).astype(np.int64)
        current = np.empty_like(previous)
        current[0] = i
        current[1:] = np.minimum(previous[1:] + 1, previous[:-1] + cost)
        # Insertions: current[j] = min over k <= j of current[k] + (j - k).
        current = np.minimum.accumulate(current - columns) + columns
        previous = current
    return int(previous[-1])
