"""The test signer matches Slack's official test vector, and slack_sdk's verifier agrees."""

from __future__ import annotations

import json
import time

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.conftest import FIXTURES, requires_shared
from tests.fakes.slack_signing import signature, signed_headers

VECTOR = FIXTURES / "slack" / "signature_test_vector" / "slack_signing_vector.json"

pytestmark = requires_shared(VECTOR)


@pytest.fixture
def vector() -> dict[str, str]:
    data: dict[str, str] = json.loads(VECTOR.read_text())
    return data


def test_signer_reproduces_the_official_vector(vector: dict[str, str]) -> None:
    got = signature(vector["signing_secret"], vector["timestamp"], vector["body"])
    assert got == vector["expected_signature"]


def test_slack_sdk_accepts_the_vector_and_rejects_a_changed_body(vector: dict[str, str]) -> None:
    verifier = SignatureVerifier(
        vector["signing_secret"], clock=type("C", (), {"now": lambda self: 1531420618.0})()
    )
    headers = vector["headers"]
    assert verifier.is_valid_request(vector["body"], headers)
    assert not verifier.is_valid_request(vector["body"] + "&x=1", headers)


def test_fresh_signature_is_valid_and_a_stale_one_is_not() -> None:
    verifier = SignatureVerifier("secret")
    body = '{"type":"event_callback"}'
    assert verifier.is_valid_request(body, signed_headers("secret", body))
    stale = signed_headers("secret", body, timestamp=int(time.time()) - 6 * 60)
    assert not verifier.is_valid_request(body, stale)
    assert not verifier.is_valid_request(body, signed_headers("other-secret", body))
