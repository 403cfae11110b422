"""Two `relaydesk serve` replicas on one PostgreSQL share the inbox and outbox: every update
is processed once and every reply is sent once, redeliveries to the other replica included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import postgres_url, requires_postgres

ROOT = Path(__file__).resolve().parents[2]


@requires_postgres
def test_two_replicas_process_each_update_once() -> None:
    url = postgres_url()
    assert url is not None
    command = [sys.executable, str(ROOT / "bench" / "replicas.py"), "--replicas", "2"]
    command += ["--updates", "20", "--database-url", url]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=900, cwd=ROOT, check=False
    )
    assert result.stdout, result.stderr[-2000:]
    outcome = json.loads(result.stdout.splitlines()[0])
    assert outcome["replicas"] == 2
    assert outcome["inbox_rows"] == 20  # the redelivered updates were stored once
    assert outcome["processed"] == 20
    assert outcome["stored_messages"] == 20
    assert outcome["replies"] == 20
    assert outcome["replies_sent_twice"] == 0
    assert result.returncode == 0
