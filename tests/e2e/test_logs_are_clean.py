"""Security: at DEBUG, `relaydesk serve` logs neither secrets nor what customers wrote."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.fakes.telegram_api import TOKEN, FakeTelegramApi

ROOT = Path(__file__).resolve().parents[2]
SECRET = "webhook-secret_9f8e7d6c5b4a"
OPENAI_KEY = "sk-test-0123456789abcdefSECRET"
BODY = "my PIN is QXZ-8817 and my address is Kwiatowa 7"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_debug_logs_of_a_conversation_hold_no_secrets_or_bodies(tmp_path: Path) -> None:
    port = _port()
    with FakeTelegramApi() as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAYDESK_", "SLACK_"))}
        env.update(
            RELAYDESK_DATA_DIR=str(tmp_path / "data"),
            RELAYDESK_PORT=str(port),
            RELAYDESK_LOG_LEVEL="DEBUG",
            TELEGRAM_BOT_TOKEN=TOKEN,
            RELAYDESK_TELEGRAM_API_URL=api.url,
            RELAYDESK_TELEGRAM_WEBHOOK_URL="https://help.example.com/telegram/webhook",
            RELAYDESK_TELEGRAM_WEBHOOK_SECRET=SECRET,
            OPENAI_API_KEY=OPENAI_KEY,
            OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        )
        cli = [sys.executable, "-m", "bots.cli"]
        subprocess.run([*cli, "init"], env=env, cwd=ROOT, check=True, capture_output=True)
        log_path = tmp_path / "serve.log"
        with log_path.open("wb") as log:
            server = subprocess.Popen([*cli, "serve"], env=env, cwd=ROOT, stdout=log, stderr=log)
            try:
                deadline = time.monotonic() + 90
                while time.monotonic() < deadline:
                    try:
                        if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success:
                            break
                    except httpx.HTTPError:
                        time.sleep(0.1)
                user = {"id": 4242, "is_bot": False, "first_name": "Ola", "language_code": "pl"}
                for update_id, text in ((1, BODY), (2, f"/human {BODY}")):
                    update = {
                        "update_id": update_id,
                        "message": {
                            "message_id": update_id,
                            "from": user,
                            "chat": {"id": 4242, "type": "private", "first_name": "Ola"},
                            "date": int(time.time()),
                            "text": text,
                        },
                    }
                    response = httpx.post(
                        f"http://127.0.0.1:{port}/telegram/webhook",
                        json=update,
                        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                        timeout=10,
                    )
                    assert response.status_code == 200
                wrong = httpx.post(
                    f"http://127.0.0.1:{port}/telegram/webhook",
                    json={"update_id": 3},
                    headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                    timeout=10,
                )
                assert wrong.status_code == 403
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and len(api.texts(4242)) < 2:
                    time.sleep(0.2)
                assert len(api.texts(4242)) >= 2
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(30)
    logged = log_path.read_text(encoding="utf-8", errors="replace")
    assert "handed off" in logged  # the scan is of a log that recorded the conversation
    for needle in (TOKEN, TOKEN.split(":")[1], SECRET, OPENAI_KEY, "QXZ-8817", "Kwiatowa"):
        assert needle not in logged, f"{needle[:6]}… leaked into the log"
