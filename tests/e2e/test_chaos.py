"""Crash safety, end to end: `relaydesk serve` killed with SIGKILL mid-stream loses nothing.

A reduced run of `bench/chaos.py` (the full one is 1,000 messages from 100 chats and 5 kills);
the bench's own verifier reads the database and the fake Bot API's call log.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_mid_stream_loses_nothing_and_keeps_order() -> None:
    command = [sys.executable, str(ROOT / "bench" / "chaos.py")]
    command += ["--chats", "6", "--messages", "3", "--kills", "2", "--rate", "6", "--seed", "3"]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=900, cwd=ROOT, check=False
    )
    assert result.stdout, result.stderr[-2000:]
    outcome = json.loads(result.stdout.splitlines()[0])
    assert outcome["messages"] == 18 and outcome["kills"] == 2
    assert outcome["lost"] == 0
    assert outcome["unanswered"] == 0
    assert outcome["out_of_order"] == 0
    assert outcome["duplicates"] <= 2
    assert result.returncode == 0
