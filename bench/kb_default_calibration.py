"""Fit the calibration relaydesk ships (used until `relaydesk kb calibrate` stores one).

    .venv/bin/python bench/kb_default_calibration.py > bench/out/default_calibration.yaml

Builds the demo knowledge base in a temporary folder, calibrates it on its labelled questions
(`knowledge/demo/questions.yaml`, our own writing) and prints the result as YAML. Copy it to
`knowledge/data/default_calibration.yaml` after retrieval changes.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bots.db import Database  # noqa: E402
from bots.schema import upgrade  # noqa: E402
from knowledge.embeddings import USEEmbedder  # noqa: E402
from knowledge.service import KnowledgeService  # noqa: E402


async def fit() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'kb.db'}")
        await upgrade(db)
        service = KnowledgeService(db.sessions, Path(tmp), USEEmbedder())
        await service.load_demo()
        data = service.calibration.to_dict()
        await db.close()
    data["source"] = "default"
    return data


def main() -> None:
    data = asyncio.run(fit())
    print(
        "# Fitted by bench/kb_default_calibration.py on the demo knowledge base and its questions."
    )
    print(yaml.safe_dump(data, sort_keys=False, width=1000), end="")


if __name__ == "__main__":
    main()
