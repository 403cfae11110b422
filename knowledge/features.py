"""Lexical features for the example classifier: hashed word and character n-grams, TF-IDF.

Words (lower-cased, any script), word pairs and character 3-5-grams of the text are hashed with
CRC-32 (stable across processes, unlike `hash()`), kept when at least two training texts share
them, and weighted by TF-IDF with unit-length rows. Rows are stored sparsely (CSR arrays) and
multiplied with `numpy.bincount`, so no sparse-matrix library is needed.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

HASH_SPACE = 1 << 22
CHAR_NGRAMS = (3, 4, 5)
_WORD = re.compile(r"\w+")

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


def tokens(text: str) -> list[str]:
    """The words of `text`, lower-cased (letters and digits of any script)."""
    return _WORD.findall(text.lower())


def ngrams(text: str) -> list[str]:
    """Every feature of `text`: words, adjacent word pairs and character n-grams."""
    words = tokens(text)
    features = list(words)
    features.extend(f"{a} {b}" for a, b in itertools.pairwise(words))
    joined = f" {' '.join(words)} "
    for n in CHAR_NGRAMS:
        features.extend("#" + joined[i : i + n] for i in range(len(joined) - n + 1))
    return features


def hashed_counts(text: str) -> dict[int, int]:
    """Feature buckets of `text` with their counts."""
    counts: dict[int, int] = {}
    for feature in ngrams(text):
        bucket = zlib.crc32(feature.encode("utf-8")) % HASH_SPACE
        counts[bucket] = counts.get(bucket, 0) + 1
    return counts


@dataclass(frozen=True)
class SparseRows:
    """Rows of a sparse matrix in CSR form: row r holds `columns/values[start[r]:start[r+1]]`."""

    columns: Ints
    values: Floats
    starts: Ints
    width: int

    @property
    def count(self) -> int:
        """Number of rows."""
        return len(self.starts) - 1

    def row_ids(self) -> Ints:
        """The row of every stored value."""
        return np.repeat(np.arange(self.count, dtype=np.int64), np.diff(self.starts))

    def dot(self, weights: Floats) -> Floats:
        """This matrix times `weights` (width x k): a dense (rows x k) result."""
        out = np.zeros((self.count, weights.shape[1]), dtype=np.float32)
        filled = np.diff(self.starts) > 0
        if not filled.any():
            return out
        offsets = self.starts[:-1][filled]
        by_column = np.ascontiguousarray(weights.T)
        for k in range(weights.shape[1]):
            products = np.take(by_column[k], self.columns) * self.values
            out[filled, k] = np.add.reduceat(products, offsets)
        return out

    def transpose_dot(self, grad: Floats, rows: Ints | None = None) -> Floats:
        """The transpose of this matrix times `grad` (rows x k): a dense (width x k) result.

        `rows` is `row_ids()`, which a caller repeating the product may compute once.
        """
        rows = self.row_ids() if rows is None else rows
        out = np.empty((self.width, grad.shape[1]), dtype=np.float32)
        by_row = np.ascontiguousarray(grad.T)
        for k in range(grad.shape[1]):
            out[:, k] = np.bincount(
                self.columns, weights=np.take(by_row[k], rows) * self.values, minlength=self.width
            )
        return out


class LexicalVocabulary:
    """The buckets seen in training (with their IDF), turning texts into TF-IDF rows."""

    def __init__(self, buckets: Ints, idf: Floats) -> None:
        self.buckets = buckets
        self.idf = idf

    @property
    def size(self) -> int:
        """Number of features kept."""
        return len(self.buckets)

    @classmethod
    def fit(cls, texts: Sequence[str], *, min_df: int = 2) -> LexicalVocabulary:
        """Keep the buckets at least `min_df` texts contain; IDF is smoothed, >= 1."""
        return cls._from_counts([hashed_counts(text) for text in texts], len(texts), min_df)

    @classmethod
    def _from_counts(
        cls, counts: Sequence[dict[int, int]], n_texts: int, min_df: int
    ) -> LexicalVocabulary:
        document_frequency: dict[int, int] = {}
        for text_counts in counts:
            for bucket in text_counts:
                document_frequency[bucket] = document_frequency.get(bucket, 0) + 1
        kept = sorted(b for b, df in document_frequency.items() if df >= min_df)
        buckets = np.asarray(kept, dtype=np.int64)
        df = np.asarray([document_frequency[b] for b in kept], dtype=np.float64)
        idf = (np.log((1.0 + n_texts) / (1.0 + df)) + 1.0).astype(np.float32)
        return cls(buckets, idf)

    def _row(self, counts: dict[int, int]) -> tuple[Ints, Floats]:
        if self.size == 0 or not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        keys = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        position = np.minimum(np.searchsorted(self.buckets, keys), self.size - 1)
        known = self.buckets[position] == keys
        cols = position[known]
        weights = np.log1p(tf[known]) * self.idf[cols]
        order = np.argsort(cols)
        cols, weights = cols[order], weights[order]
        norm = float(np.linalg.norm(weights))
        if norm > 0:
            weights = weights / norm
        return cols.astype(np.int64), weights.astype(np.float32)

    @classmethod
    def fit_transform(
        cls, texts: Sequence[str], *, min_df: int = 2
    ) -> tuple[LexicalVocabulary, SparseRows]:
        """`fit` and `transform` the same texts, hashing each text once."""
        counts = [hashed_counts(text) for text in texts]
        vocabulary = cls._from_counts(counts, len(texts), min_df)
        return vocabulary, vocabulary._rows(counts)

    def transform(self, texts: Sequence[str]) -> SparseRows:
        """TF-IDF rows (log-scaled counts, unit length) over the kept features."""
        return self._rows([hashed_counts(text) for text in texts])

    def _rows(self, counts: Sequence[dict[int, int]]) -> SparseRows:
        columns: list[Ints] = []
        values: list[Floats] = []
        starts = [0]
        for text_counts in counts:
            cols, weights = self._row(text_counts)
            columns.append(cols)
            values.append(weights)
            starts.append(starts[-1] + len(cols))
        return SparseRows(
            columns=np.concatenate(columns) if columns else np.zeros(0, dtype=np.int64),
            values=np.concatenate(values) if values else np.zeros(0, dtype=np.float32),
            starts=np.asarray(starts, dtype=np.int64),
            width=self.size,
        )
