"""The OpenAI-compatible embedder, through httpx's own transport hook."""

from __future__ import annotations

import base64
import json

import httpx
import numpy as np
import pytest

from knowledge.embeddings import OpenAIEmbedder, make_embedder
from knowledge.errors import EmbedderError


def server(status: int = 200, *, encode: bool = False, dims: int = 4) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/embeddings"
        assert request.headers["authorization"] == "Bearer k"
        body = json.loads(request.content)
        if status != 200:
            return httpx.Response(
                status,
                json={
                    "error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}
                },
            )
        data = []
        for index, text in reversed(list(enumerate(body["input"]))):
            vector = np.full(dims, float(len(text)), dtype=np.float32)
            vector[0] = index + 10
            embedding: object = (
                base64.b64encode(vector.tobytes()).decode() if encode else vector.tolist()
            )
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        return httpx.Response(200, json={"object": "list", "data": data, "model": body["model"]})

    return httpx.MockTransport(handle)


def embedder(transport: httpx.MockTransport, dims: int = 4) -> OpenAIEmbedder:
    return OpenAIEmbedder(
        "m", dim=dims, api_key="k", base_url="https://api.example/v1", transport=transport
    )


@pytest.mark.parametrize("encode", [False, True])
def test_vectors_come_back_in_order_and_normalised(encode: bool) -> None:
    vectors = embedder(server(encode=encode)).embed(["a", "bbb"])
    assert vectors.shape == (2, 4)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    # the server answered in reverse order; rows follow the input: (index + 10) / len(text)
    assert vectors[0, 0] / vectors[0, 1] == pytest.approx(10 / 1)
    assert vectors[1, 0] / vectors[1, 1] == pytest.approx(11 / 3)


def test_errors_are_one_line() -> None:
    with pytest.raises(EmbedderError, match="answered 401: Incorrect API key provided"):
        embedder(server(401)).embed(["a"])
    with pytest.raises(EmbedderError, match="sent 4-d vectors for openai:m, expected 8-d"):
        embedder(server(), dims=8).embed(["a"])


def test_make_embedder_names() -> None:
    made = make_embedder("openai:text-embedding-3-small", api_key="k")
    assert (made.name, made.dim) == ("openai:text-embedding-3-small", 1536)
    assert make_embedder("openai:local-model@384").dim == 384
    with pytest.raises(EmbedderError, match="size of 'local-model' is unknown"):
        make_embedder("openai:local-model")
    with pytest.raises(EmbedderError, match="unknown embedder 'bert'"):
        make_embedder("bert")
