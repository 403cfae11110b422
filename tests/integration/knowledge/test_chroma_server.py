"""The index on a Chroma server (`RELAYDESK_CHROMA_URL`): a real `chroma run` on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bots.db import Database
from knowledge.embeddings import USEEmbedder
from knowledge.service import KnowledgeService

CHROMA = Path(sys.executable).parent / "chroma"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def chroma_url(tmp_path: Path) -> Iterator[str]:
    if not CHROMA.exists():
        pytest.skip("the chroma command (Chroma server) is not installed in this environment")
    port = free_port()
    process = subprocess.Popen(
        [
            str(CHROMA),
            "run",
            "--path",
            str(tmp_path / "chroma"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("the Chroma server did not start within 60 s")
    yield url
    process.terminate()
    process.wait(timeout=20)


async def test_index_on_a_chroma_server(
    chroma_url: str, sqlite_db: Database, tmp_path: Path, articles: Path, use_embedder: USEEmbedder
) -> None:
    kb = KnowledgeService(sqlite_db.sessions, tmp_path / "unused", use_embedder, chroma_url)
    report = await kb.import_path(articles)
    assert sorted(report.index.added) == ["delivery-time", "reset-hasla", "reset-password"]
    assert not (tmp_path / "unused" / "index").exists()  # nothing embedded locally
    decision = await kb.answer("I forgot my password", "en")
    assert decision.article is not None and decision.article.slug == "reset-password"
    rebuilt = await kb.reindex()
    assert rebuilt.units == report.index.units
    other = KnowledgeService(sqlite_db.sessions, tmp_path / "other", use_embedder, chroma_url)
    assert (await other.search("how long does delivery take", "en"))[0].slug == "delivery-time"
    await other.close()
    await kb.close()
