"""Fit the calibration relaydesk ships (used until `relaydesk kb calibrate` stores one).

    .venv/bin/python bench/kb_default_calibration.py > bench/out/default_calibration.yaml

Builds the demo knowledge base in a temporary folder, calibrates it on its labelled questions
(`knowledge/demo/questions.yaml`, our own writing) the way `relaydesk init --demo` does
(`KnowledgeService.calibrate_demo`) and prints the result as YAML. Copy it to
`knowledge/data/default_calibration.yaml` after retrieval changes.

The default also serves knowledge bases with no Polish articles, where Polish questions are
matched across languages; the demo has a translation of everything, so its Polish questions
are asked a second time against its English articles alone and those samples join the fit.
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
from knowledge import demo  # noqa: E402
from knowledge.embeddings import USEEmbedder  # noqa: E402
from knowledge.service import KnowledgeService  # noqa: E402


async def fit() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'kb.db'}")
        await upgrade(db)
        service = KnowledgeService(db.sessions, Path(tmp) / "data", USEEmbedder())
        await service.import_path(demo.FOLDER, author="demo", publish=True)
        calibration = await service.calibrate_demo(source="default", store_it=False)
        await service.close()
        await db.close()
    return calibration.to_dict()


def main() -> None:
    data = asyncio.run(fit())
    print(
        "# Fitted by bench/kb_default_calibration.py on the demo knowledge base and its questions."
    )
    print(yaml.safe_dump(data, sort_keys=False, width=1000), end="")


if __name__ == "__main__":
    main()
