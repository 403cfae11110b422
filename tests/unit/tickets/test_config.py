"""helpdesk.yaml: each kind of mistake names the file, the rule or policy, the field and why."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tickets.config import (
    ConfigFileError,
    default_config,
    format_duration,
    load_config,
    parse_config,
    parse_duration,
)

BASE: dict[str, Any] = {
    "default_department": "general",
    "departments": [{"name": "general"}, {"name": "payments"}],
    "routing": [
        {"name": "cards", "when": {"keywords": ["card"]}, "then": {"department": "payments"}},
        {"name": "pl", "when": {"language": "pl"}, "then": {"priority": "high"}},
        {
            "name": "vip-ml",
            "when": {"learned": {"min_confidence": 0.8}},
            "then": {"department": "learned"},
        },
    ],
}


def broken(path: str, value: Any) -> dict[str, Any]:
    """BASE with `path` (dots and [i]) set to `value`."""
    data = copy.deepcopy(BASE)
    target: Any = data
    parts = path.replace("[", ".").replace("]", "").split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target.setdefault(part, {})
    last = parts[-1]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return data


def error_of(data: Any) -> str:
    with pytest.raises(ConfigFileError) as caught:
        parse_config(data)
    return str(caught.value)


def test_base_is_valid() -> None:
    assert parse_config(BASE).routing[2].when.learned is not None


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "routing[2].when.learned.min_confidence",
            1.5,
            "helpdesk.yaml: routing[2].when.learned.min_confidence: must be between 0 and 1"
            " (rule 'vip-ml')",
        ),
        (
            "routing[0].then.department",
            "billing",
            "helpdesk.yaml: routing[0].then.department: unknown department 'billing'"
            " (known: general, payments) (rule 'cards')",
        ),
        (
            "routing[1].then.priority",
            "asap",
            "helpdesk.yaml: routing[1].then.priority: input should be 'low', 'normal', 'high'"
            " or 'urgent' (rule 'pl')",
        ),
        (
            "routing[0].when.regex",
            "(unclosed",
            "helpdesk.yaml: routing[0].when.regex: is not a valid regular expression:"
            " missing ), unterminated subpattern at position 0 (rule 'cards')",
        ),
        (
            "routing[0].when.channels",
            "telegram",
            "helpdesk.yaml: routing[0].when.channels: is not a known field (rule 'cards')",
        ),
        (
            "routing[1].name",
            "cards",
            "helpdesk.yaml: routing[1].name: 'cards' is given twice (rule 'cards')",
        ),
        (
            "routing[0].when.keywords",
            [],
            "helpdesk.yaml: routing[0].when.keywords: an empty list matches nothing, so the rule"
            " could never apply (rule 'cards')",
        ),
        (
            "routing[0].when.business_hours",
            "sometimes",
            "helpdesk.yaml: routing[0].when.business_hours: input should be a valid boolean,"
            " unable to interpret input (rule 'cards')",
        ),
        (
            "default_department",
            "sales",
            "helpdesk.yaml: default_department: unknown department 'sales'"
            " (known: general, payments)",
        ),
        (
            "sla",
            {"policies": [{"name": "fast", "first_response": "soon"}]},
            "helpdesk.yaml: sla.policies[0].first_response: must be a duration like 30m, 4h,"
            " 1h30m or 2d, not 'soon' (policy 'fast')",
        ),
        (
            "sla",
            {"policies": [{"name": "fast", "warn_at": 120}]},
            "helpdesk.yaml: sla.policies[0].warn_at: must be a percentage between 1 and 99"
            " (or null for no warning) (policy 'fast')",
        ),
        (
            "sla",
            {"policies": [{"name": "fast", "on_breach": ["page_ceo"]}]},
            "helpdesk.yaml: sla.policies[0].on_breach[0]: input should be 'escalate_tier',"
            " 'raise_priority' or 'notify' (policy 'fast')",
        ),
        (
            "calendars",
            {"office": {"timezone": "Europe/Warsow", "hours": {"mon-fri": "08:00-16:00"}}},
            "helpdesk.yaml: calendars.office.timezone: unknown timezone 'Europe/Warsow'"
            " (use an IANA name like Europe/Warsaw)",
        ),
        (
            "calendars",
            {"office": {"hours": {"mon-fri": "16:00-08:00"}}},
            "helpdesk.yaml: calendars.office.hours: '16:00-08:00' ends before it starts"
            " (hours may not cross midnight)",
        ),
        (
            "business_calendar",
            "office",
            "helpdesk.yaml: business_calendar: unknown calendar 'office' (known: 24x7)",
        ),
        (
            "reopen_window",
            "a week",
            "helpdesk.yaml: reopen_window: must be a duration like 30m, 4h, 1h30m or 2d,"
            " not 'a week'",
        ),
    ],
)
def test_errors_name_the_field_and_why(path: str, value: Any, expected: str) -> None:
    assert error_of(broken(path, value)) == expected


def test_learned_department_needs_a_learned_condition() -> None:
    data = broken("routing[0].then.department", "learned")
    assert error_of(data) == (
        "helpdesk.yaml: routing[0].then.department: 'learned' needs a `when.learned` condition"
        " (with its min_confidence) (rule 'cards')"
    )


def test_a_misspelt_key_is_named_rather_than_the_missing_one() -> None:
    data = copy.deepcopy(BASE)
    data["departmentz"] = data.pop("departments")
    assert error_of(data) == "helpdesk.yaml: departmentz: is not a known field"


def test_file_errors_are_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigFileError, match=r"^helpdesk config .*nope.yaml does not exist$"):
        load_config(missing)
    bad_yaml = tmp_path / "helpdesk.yaml"
    bad_yaml.write_text("departments: [\n  - name: a\n default: x\n", encoding="utf-8")
    with pytest.raises(ConfigFileError) as caught:
        load_config(bad_yaml)
    assert str(caught.value).startswith("helpdesk.yaml: line ")
    assert "\n" not in str(caught.value)
    scalar = tmp_path / "helpdesk.yaml"
    scalar.write_text("just text\n", encoding="utf-8")
    with pytest.raises(ConfigFileError, match="must be a mapping of settings, not str"):
        load_config(scalar)
    wrong = tmp_path / "helpdesk.yaml"
    wrong.write_text(yaml.safe_dump(broken("routing[2].when.learned.min_confidence", -1)))
    with pytest.raises(ConfigFileError) as caught:
        load_config(wrong)
    assert str(caught.value).startswith(
        "helpdesk.yaml: routing[2].when.learned.min_confidence: must be between 0 and 1"
    )


def test_durations() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration(" 16h ") == timedelta(hours=16)
    assert format_duration(timedelta(days=1, hours=2, minutes=5)) == "1d2h5m"
    for bad in ("", "16", "h", "3 weeks", 5):
        with pytest.raises(ValueError, match="must be a duration"):
            parse_duration(bad)


def test_the_default_config_has_one_department_open_always_and_no_breach_actions() -> None:
    config = default_config()
    assert config.department_names == ["general"]
    assert config.calendar().always_open
    assert all(not policy.on_breach for policy in config.sla.policies)
    assert config.routing == []


def test_impossible_dates_repeated_keys_other_encodings_and_empty_files_are_one_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "helpdesk.yaml"
    cases = {
        (
            b"default_department: general\ndepartments: [{name: general}]\n"
            b"calendars:\n  office:\n    hours: {mon-fri: '08:00-16:00'}\n"
            b"    holidays: [2026-02-30]\n"
        ): "helpdesk.yaml: line 6: '2026-02-30' is not a real date (day is out of range for month)",
        (
            b"default_department: general\ndepartments: [{name: general}]\n"
            b"routing: []\nrouting: [{name: a, then: {priority: high}}]\n"
        ): "helpdesk.yaml: line 4: 'routing' is given twice",
        "default_department: café\ndepartments: [{name: general}]\n".encode("latin-1"): (
            "helpdesk.yaml: line 1: byte 0xe9 is not UTF-8 (save the file as UTF-8)"
        ),
        b"# nothing here yet\n": "helpdesk.yaml: the file is empty",
    }
    for content, expected in cases.items():
        path.write_bytes(content)
        with pytest.raises(ConfigFileError) as caught:
            load_config(path)
        assert str(caught.value) == expected
    # A byte-order mark and `<<` merge keys are ordinary YAML, not mistakes.
    path.write_bytes(
        b"\xef\xbb\xbfdefault_department: general\n"
        b"departments: [{name: general, <<: {description: all}}]\n"
    )
    assert load_config(path).departments[0].description == "all"


def test_overlapping_opening_hours_are_refused() -> None:
    hours = {"office": {"hours": {"mon-fri": ["12:00-24:00", "08:00-12:00", "10:00-14:00"]}}}
    assert error_of(broken("calendars", hours)) == (
        "helpdesk.yaml: calendars.office.hours: '10:00-14:00' overlaps '08:00-12:00' on 'mon-fri'"
    )
    hours["office"]["hours"]["mon-fri"] = ["12:00-24:00", "08:00-12:00"]  # touching is fine
    assert parse_config(broken("calendars", hours)).calendar("office").weekly[0][0][1] is not None


def test_durations_must_be_reachable() -> None:
    assert error_of(broken("reopen_window", "9999999999d")) == (
        "helpdesk.yaml: reopen_window: must be at most 365d, not '9999999999d'"
    )
    data = broken("calendars", {"office": {"hours": {"mon": "08:00-09:00"}}})
    data["sla"] = {"policies": [{"name": "slow", "calendar": "office", "resolution": "5000h"}]}
    assert error_of(data) == (
        "helpdesk.yaml: sla.policies[0].resolution: 208d8h of business time takes calendar"
        " 'office' more than 10 years (policy 'slow')"
    )
    data["sla"]["policies"][0]["resolution"] = "365d"
    data["sla"]["policies"][0]["calendar"] = None
    assert parse_config(data).sla.policies[0].resolution == timedelta(days=365)
