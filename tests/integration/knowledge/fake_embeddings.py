"""A fake OpenAI-compatible embeddings API on 127.0.0.1, answering like the real one.

Bodies follow the recorded exchanges in `../shared/fixtures/openai/newrelic_vcr/` (the list
object, `index`, `model`, `usage`; base64 vectors when asked; the 401 `invalid_api_key` and
404 `model_not_found` errors). Vectors are deterministic: hashed words and character
trigrams, so similar texts get similar vectors.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.conftest import FIXTURES

CASSETTE = FIXTURES / "openai" / "newrelic_vcr" / "mlmodel_openai_cassette.yaml"
DIMS = {"text-embedding-3-small": 1536, "text-embedding-ada-002": 1536}
KEY = "test-key"


def recorded_bodies() -> dict[int, dict[str, Any]]:
    """The first recorded /v1/embeddings response body for each status code."""
    bodies: dict[int, dict[str, Any]] = {}
    for exchange in yaml.safe_load(CASSETTE.read_text(encoding="utf-8"))["interactions"]:
        if not exchange["request"]["uri"].endswith("/v1/embeddings"):
            continue
        status = int(exchange["response"]["status"]["code"])
        bodies.setdefault(status, json.loads(exchange["response"]["body"]["string"]))
    return bodies


def vector(text: str, dims: int) -> np.ndarray:
    out = np.zeros(dims, dtype=np.float32)
    lowered = text.lower()
    features = re.findall(r"\w+", lowered)
    features += [lowered[i : i + 3] for i in range(max(len(lowered) - 2, 0))]
    for feature in features:
        digest = hashlib.blake2b(feature.encode(), digest_size=4).digest()
        out[int.from_bytes(digest, "little") % dims] += 1.0
    if not out.any():
        out[0] = 1.0
    return out / np.linalg.norm(out)


@dataclass
class FakeEmbeddings:
    base_url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


def app(state: FakeEmbeddings) -> Starlette:
    bodies = recorded_bodies()

    async def embeddings(request: Request) -> JSONResponse:
        body = await request.json()
        state.requests.append(body)
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return JSONResponse(bodies[401], status_code=401)
        model = body.get("model")
        if model not in DIMS:
            error = json.loads(json.dumps(bodies[404]).replace("does-not-exist", str(model)))
            return JSONResponse(error, status_code=404)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for index, text in enumerate(texts):
            v = vector(text, DIMS[model])
            encoded: Any = (
                base64.b64encode(v.tobytes()).decode()
                if body.get("encoding_format") == "base64"
                else v.tolist()
            )
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(len(t.split()) for t in texts)
        return JSONResponse(
            {
                "object": bodies[200]["object"],
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    return Starlette(routes=[Route("/v1/embeddings", embeddings, methods=["POST"])])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def embeddings_server() -> Iterator[FakeEmbeddings]:
    if not CASSETTE.exists():
        pytest.skip(f"shared fixtures not found at {CASSETTE.name} (../shared missing)")
    port = free_port()
    state = FakeEmbeddings(base_url=f"http://127.0.0.1:{port}/v1")
    server = uvicorn.Server(
        uvicorn.Config(app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield state
    server.should_exit = True
    thread.join(timeout=10)
