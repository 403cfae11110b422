"""The vector index in Chroma (the only module importing chromadb).

Vectors are computed by us and handed to Chroma (never its default embedding function, which
downloads a model). The collection uses cosine space and HNSW parameters raised well above
Chroma's defaults, records the embedder that built it, and refuses to mix embedders. Embedded
`PersistentClient` under the data dir by default; `HttpClient` when a Chroma server URL is set.

Chroma's `PersistentClient` is not safe across processes, so every call here is short, and a
process that sees the index generation change reopens the client (`reopen`).
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import numpy as np
import numpy.typing as npt

from knowledge.errors import KnowledgeIndexError

log = logging.getLogger(__name__)

COLLECTION = "relaydesk_kb"
# HNSW parameters: Chroma's defaults (ef_search 100, M 16) lose neighbours on 10k vectors;
# these keep recall@5 at the exact search's level (bench/kb_index.py measures it).
HNSW = {"space": "cosine", "ef_construction": 256, "ef_search": 256, "max_neighbors": 32}
ADD_BATCH = 1000

Vectors = npt.NDArray[np.float32]


@dataclass
class IndexedUnits:
    """Everything in the index, in one consistent read."""

    ids: list[str] = field(default_factory=list)
    vectors: Vectors = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    documents: list[str] = field(default_factory=list)
    metadatas: list[dict[str, Any]] = field(default_factory=list)


F = TypeVar("F", bound=Callable[..., Any])


def _wrapped(method: F) -> F:
    """Report Chroma's own failures as one-line KnowledgeIndexError."""

    @functools.wraps(method)
    def wrapper(self: ChromaIndex, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except KnowledgeIndexError:
            raise
        except Exception as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise KnowledgeIndexError(
                f"the index at {self.where} failed: {type(exc).__name__}: {message}"
            ) from exc

    return wrapper  # type: ignore[return-value]


def _chromadb() -> Any:
    try:
        import chromadb
    except ImportError as exc:  # pragma: no cover - a broken install
        raise KnowledgeIndexError(f"chromadb is not installed: {exc}") from None
    return chromadb


def _client_settings() -> Any:
    chromadb = _chromadb()
    return chromadb.Settings(anonymized_telemetry=False, allow_reset=False)


class ChromaIndex:
    """One Chroma collection of knowledge units; thread-safe, blocking (call it via
    `asyncio.to_thread`)."""

    def __init__(
        self,
        *,
        path: Path | None = None,
        url: str | None = None,
        embedder: str,
        dim: int,
        collection: str = COLLECTION,
        hnsw: dict[str, Any] | None = None,
    ) -> None:
        if path is None and url is None:
            raise KnowledgeIndexError("the index needs a data folder or a Chroma server URL")
        self.path = path
        self.url = url
        self.embedder = embedder
        self.dim = dim
        self.collection_name = collection
        self.hnsw = dict(HNSW if hnsw is None else hnsw)
        self._lock = threading.RLock()
        self._client: Any = None
        self._collection: Any = None

    # -- connection -----------------------------------------------------------------------

    @property
    def where(self) -> str:
        """Where the index lives, for messages."""
        return self.url or str(self.path)

    def _connect(self) -> Any:
        chromadb = _chromadb()
        if self.url:
            parsed = urlparse(self.url)
            if parsed.scheme not in {"http", "https"} or not parsed.hostname:
                raise KnowledgeIndexError(
                    f"RELAYDESK_CHROMA_URL: {self.url!r} is not an http(s) URL"
                )
            port = parsed.port or (443 if parsed.scheme == "https" else 8000)
            try:
                return chromadb.HttpClient(
                    host=parsed.hostname,
                    port=port,
                    ssl=parsed.scheme == "https",
                    settings=_client_settings(),
                )
            except Exception as exc:
                raise KnowledgeIndexError(
                    f"cannot reach the Chroma server at {self.url}: {exc}"
                ) from None
        assert self.path is not None
        self.path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(self.path), settings=_client_settings())

    def _metadata(self, calibration: str | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {"embedder": self.embedder, "dim": self.dim}
        if calibration:
            meta["calibration"] = calibration
        return meta

    def _open(self, *, create: bool) -> Any:
        if self._collection is not None:
            return self._collection
        if self._client is None:
            self._client = self._connect()
        try:
            collection = self._client.get_collection(self.collection_name, embedding_function=None)
        except Exception:
            if not create:
                return None
            collection = self._client.create_collection(
                self.collection_name,
                configuration={"hnsw": dict(self.hnsw)},
                metadata=self._metadata(),
                embedding_function=None,
            )
        built_by = (collection.metadata or {}).get("embedder")
        if built_by is not None and built_by != self.embedder:
            raise KnowledgeIndexError(
                f"the index was built with the {built_by!r} embedder, not {self.embedder!r}: "
                "run `relaydesk kb reindex` to rebuild it"
            )
        self._collection = collection
        return collection

    @_wrapped
    def exists(self) -> bool:
        """Whether the collection exists (checking its embedder)."""
        with self._lock:
            return self._open(create=False) is not None

    def reopen(self) -> None:
        """Forget the client, so the next call sees what other processes wrote (an embedded
        index is reloaded from disk once no other client of this process holds it)."""
        self.close()

    def close(self) -> None:
        """Release the client (the embedded index's files are closed with the last client)."""
        with self._lock:
            client, self._client, self._collection = self._client, None, None
            close = getattr(client, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # already closed, or a server that went away
                    log.debug("closing the Chroma client failed", exc_info=True)

    # -- reading --------------------------------------------------------------------------

    @_wrapped
    def count(self) -> int:
        with self._lock:
            collection = self._open(create=False)
            return 0 if collection is None else int(collection.count())

    @_wrapped
    def load(self) -> IndexedUnits:
        """Every unit with its vector, text and metadata."""
        with self._lock:
            collection = self._open(create=False)
            if collection is None:
                return IndexedUnits(vectors=np.zeros((0, self.dim), dtype=np.float32))
            total = int(collection.count())
            result = IndexedUnits(vectors=np.zeros((0, self.dim), dtype=np.float32))
            blocks: list[Vectors] = []
            offset = 0
            page = 5000
            while offset < total:
                got = collection.get(
                    include=["embeddings", "documents", "metadatas"], limit=page, offset=offset
                )
                ids = list(got["ids"])
                if not ids:
                    break
                result.ids.extend(ids)
                result.documents.extend(str(d or "") for d in got["documents"] or [])
                result.metadatas.extend(dict(m or {}) for m in got["metadatas"] or [])
                blocks.append(np.asarray(got["embeddings"], dtype=np.float32))
                offset += len(ids)
            if blocks:
                result.vectors = np.vstack(blocks).astype(np.float32, copy=False)
            return result

    @_wrapped
    def article_hashes(self) -> dict[str, str]:
        """Slug -> content hash of every article the index holds."""
        with self._lock:
            collection = self._open(create=False)
            if collection is None:
                return {}
            got = collection.get(where={"kind": "title"}, include=["metadatas"])
            return {
                str(m.get("slug")): str(m.get("hash", ""))
                for m in (got["metadatas"] or [])
                if m is not None
            }

    @_wrapped
    def query(self, vector: Vectors, k: int) -> list[tuple[str, float]]:
        """The `k` nearest units by HNSW: (id, cosine similarity), best first."""
        with self._lock:
            collection = self._open(create=False)
            if collection is None:
                return []
            k = max(1, min(k, int(collection.count())))
            got = collection.query(
                query_embeddings=[np.asarray(vector, dtype=np.float32).tolist()],
                n_results=k,
                include=["distances"],
            )
            ids = got["ids"][0]
            distances = got["distances"][0] if got["distances"] else [0.0] * len(ids)
            return [(str(i), 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    @_wrapped
    def calibration(self) -> dict[str, Any] | None:
        """The decision calibration stored with the index, if any."""
        with self._lock:
            collection = self._open(create=False)
            if collection is None:
                return None
            raw = (collection.metadata or {}).get("calibration")
            if not raw:
                return None
            try:
                data = json.loads(str(raw))
            except json.JSONDecodeError:
                log.warning("the calibration stored with the index is not JSON; ignoring it")
                return None
            return data if isinstance(data, dict) else None

    # -- writing --------------------------------------------------------------------------

    @_wrapped
    def store_calibration(self, calibration: dict[str, Any] | None) -> None:
        """Keep `calibration` with the index (None removes it)."""
        with self._lock:
            collection = self._open(create=True)
            text = json.dumps(calibration, sort_keys=True) if calibration else None
            collection.modify(metadata=self._metadata(text))
            self._collection = None  # read the new metadata next time

    def replace(
        self,
        remove: Sequence[str],
        ids: Sequence[str],
        vectors: Vectors,
        documents: Sequence[str],
        metadatas: Sequence[dict[str, Any]],
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Delete the units of the articles in `remove`, then add the given units."""
        if vectors.shape[0] != len(ids):
            raise KnowledgeIndexError("internal: one vector per unit is required")
        if len(ids) and vectors.shape[1] != self.dim:
            raise KnowledgeIndexError(
                f"vectors have {vectors.shape[1]} dimensions, the index {self.dim}"
            )
        with self._lock:
            collection = self._open(create=True)
            for start in range(0, len(remove), 500):
                collection.delete(where={"slug": {"$in": list(remove[start : start + 500])}})
            for start in range(0, len(ids), ADD_BATCH):
                end = start + ADD_BATCH
                collection.add(
                    ids=list(ids[start:end]),
                    embeddings=vectors[start:end].tolist(),
                    documents=list(documents[start:end]),
                    metadatas=[dict(m) for m in metadatas[start:end]],
                )
                if progress is not None:
                    progress(min(end, len(ids)))

    def _set_aside(self, exc: Exception) -> Any:
        """An embedded index that cannot even be opened (a damaged file) is moved aside,
        not deleted, so that a rebuild can start afresh; returns a client of the new one."""
        assert self.path is not None
        aside = self.path.with_name(f"{self.path.name}.unreadable-{time.strftime('%Y%m%d%H%M%S')}")
        self.path.rename(aside)
        # Chroma keeps one half-started system per folder for the whole process: forget it,
        # or the new client would reuse it
        from chromadb.api.shared_system_client import SharedSystemClient

        for cache in ("_identifier_to_system", "_identifier_to_refcount"):
            getattr(SharedSystemClient, cache, {}).pop(str(self.path), None)
        log.warning(
            "the index at %s could not be opened (%s: %s); moved to %s, building a new one "
            "(a calibration stored in it is lost: run relaydesk kb calibrate again)",
            self.path,
            type(exc).__name__,
            str(exc).strip().splitlines()[0] if str(exc).strip() else "",
            aside,
        )
        return self._connect()

    @_wrapped
    def reset(self) -> dict[str, Any] | None:
        """Drop the collection (whatever embedder built it); returns its calibration if it
        was built by the current embedder, so a rebuild can keep it."""
        with self._lock:
            if self._client is None:
                try:
                    self._client = self._connect()
                except Exception as exc:
                    if self.url or self.path is None:
                        raise
                    self._client = self._set_aside(exc)
            kept: dict[str, Any] | None = None
            try:
                old = self._client.get_collection(self.collection_name, embedding_function=None)
            except Exception:
                old = None
            if old is not None:
                meta = old.metadata or {}
                if meta.get("embedder") == self.embedder and meta.get("calibration"):
                    try:
                        kept = json.loads(str(meta["calibration"]))
                    except json.JSONDecodeError:
                        kept = None
                self._client.delete_collection(self.collection_name)
            self._collection = None
            self._open(create=True)
            return kept
