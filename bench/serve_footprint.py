"""Start-up time and resident memory of `relaydesk serve`.

Runs `relaydesk init --demo` in a fresh data dir, starts `relaydesk serve`, measures the time
until /healthz answers, asks the bot a few questions through the console-free path (none: the
KB is warmed at start), and reads the process's peak and current RSS from /proc.

    .venv/bin/python bench/serve_footprint.py [--chunks 10000]

`--chunks N` also indexes N synthetic knowledge chunks before starting (the 1 GB check).
Targets: demo KB < 400 MB RSS and < 10 s to healthy; 10,000 chunks < 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "bots.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MB of a process and its children."""
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    current = int(fields["VmRSS"].split()[0]) / 1024
    peak = int(fields["VmHWM"].split()[0]) / 1024
    return current, peak


def wait_healthy(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=0, help="synthetic chunks to index first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "RELAYDESK_DATA_DIR": tmp, "RELAYDESK_PORT": str(free_port())}
        for key in ("TELEGRAM_BOT_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"):
            env.pop(key, None)
        subprocess.run([*CLI, "init", "--demo"], env=env, check=True, capture_output=True)
        if args.chunks:
            subprocess.run(
                [sys.executable, str(ROOT / "bench" / "kb_synthetic.py"), str(args.chunks)],
                env=env,
                check=True,
            )
        started = time.monotonic()
        proc = subprocess.Popen(
            [*CLI, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            healthy = wait_healthy(int(env["RELAYDESK_PORT"]), started + 60)
            startup = time.monotonic() - started
            time.sleep(2.0)  # let background warm-up finish
            current, peak = rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    result = {
        "healthy": healthy,
        "startup_s": round(startup, 2),
        "rss_mb": round(current, 1),
        "peak_rss_mb": round(peak, 1),
        "chunks": args.chunks,
    }
    print(json.dumps(result))
    print(
        f"serve: healthy in {startup:.2f} s, RSS {current:.0f} MB (peak {peak:.0f} MB)"
        f" with {'the demo KB' if not args.chunks else f'{args.chunks} extra chunks'}"
    )


if __name__ == "__main__":
    main()
