"""The documented helpdesk.example.yaml loads and says what the README says it does."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tickets.config import load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "helpdesk.example.yaml"


def test_the_documented_example_loads() -> None:
    config = load_config(EXAMPLE)
    assert {"orders", "payments", "account"} <= set(config.department_names)
    assert config.default_department in config.department_names
    assert config.calendar().describe().endswith("(Europe/Warsaw)")
    assert any(rule.when.learned is not None for rule in config.routing)
    assert config.sla.policies and config.csat.enabled
    assert config.reopen_window == timedelta(days=7)
    assert config.department("payments") is not None
    assert config.department_calendar("payments").describe() == (
        "Mon-Fri 08:00-20:00; Sat-Sun 10:00-16:00 (Europe/Warsaw)"
    )
