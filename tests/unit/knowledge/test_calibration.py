"""Calibration maths: the logistic confidence, thresholds for a target precision, storage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge import calibration as calibration_module
from knowledge.calibration import (
    FALLBACK,
    Calibration,
    Sample,
    choose_threshold,
    default,
    fit,
    fit_logistic,
    wilson_lower,
)
from knowledge.errors import CalibrationError
from knowledge.retrieval import FEATURES


def test_logistic_learns_a_separable_rule() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] + 0.2 * rng.normal(size=400) > 0).astype(float)
    model = fit_logistic(x, y)
    assert model([2.0, 0.0]) > 0.95
    assert model([-2.0, 0.0]) < 0.05
    assert abs(model.weights[0]) > 5 * abs(model.weights[1])


def test_wilson_lower_bound() -> None:
    # with every answer right the bound is n / (n + z²)
    assert wilson_lower(6, 6, z=1.0) == pytest.approx(6 / 7)
    assert wilson_lower(6, 6, z=0.5) == pytest.approx(6 / 6.25)
    assert wilson_lower(0, 0) == 0.0
    # 97 right of 100 measures 0.97 but cannot promise it; 980 of 1,000 can
    assert wilson_lower(97, 100) < 0.97 < wilson_lower(980, 1000) < 0.98


def test_threshold_is_the_lowest_whose_lower_bound_keeps_the_precision() -> None:
    confidences = [0.99, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5]
    correct = [True, True, True, True, True, True, False, True]
    # (a quarter of a standard error) at 0.5, 7 of 8 right measures 0.875 >= 0.85 but its
    # lower bound is 0.843; at 0.6, 6 of 7 has 0.821; at 0.7, 6 of 6 has 6 / 6.0625 = 0.990
    threshold, precision, coverage = choose_threshold(confidences, correct, 0.85)
    assert (threshold, precision, coverage) == (0.7, 1.0, 0.75)
    # a target that 6 right of 6 cannot show (0.990 < 0.995): never answer
    assert choose_threshold(confidences, correct, 0.995) == (1.0, 1.0, 0.0)
    # many right answers show a high target
    many = [1 - i / 1000 for i in range(1000)]
    right = [i % 50 != 49 for i in range(1000)]  # 98 % right everywhere
    threshold, precision, coverage = choose_threshold(many, right, 0.97)
    assert precision == pytest.approx(0.98, abs=0.005) and coverage > 0.5


def test_threshold_needs_enough_answers() -> None:
    assert choose_threshold([0.9, 0.8], [True, True], 0.9)[0] == 1.0
    assert choose_threshold([0.9] * 3 + [0.1] * 5, [False] * 8, 0.9)[0] == 1.0


def samples(language: str, n: int, seed: int) -> list[Sample]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        correct = bool(rng.random() < 0.6)
        center = 0.7 if correct else 0.35
        features = [center + 0.1 * rng.normal(), 0.1, 0.1, 0.5, center, 0.0]
        out.append(Sample(language, features, correct, in_scope=correct or rng.random() < 0.5))
    return out


def test_fit_gives_each_language_its_threshold_and_report() -> None:
    calibration = fit(samples("en", 200, 1) + samples("pl", 60, 2), target=0.95)
    assert set(calibration.models) == {"en", "pl", FALLBACK}
    assert set(calibration.thresholds) == {"en", "pl", FALLBACK}
    report = calibration.report["en"]
    assert report["precision"] >= 0.95
    assert 0 < report["coverage"] <= 1
    good = [0.8, 0.1, 0.1, 0.5, 0.8, 0.0]
    bad = [0.3, 0.1, 0.1, 0.5, 0.3, 0.0]
    assert calibration.confidence(good, "en") > calibration.threshold("en")
    assert calibration.confidence(bad, "en") < calibration.threshold("en")
    # a language without its own model falls back to the pooled one
    assert calibration.threshold("de") == calibration.thresholds[FALLBACK]
    assert report["shown"] == 1.0


def test_a_language_that_cannot_show_the_target_is_handed_off() -> None:
    # 12 Polish questions that look alike to the retriever, half of them answered right: no
    # threshold separates them, and 0.5 is far from 0.95
    alike = [0.6, 0.1, 0.1, 0.5, 0.6, 0.0]
    polish = [Sample("pl", alike, i % 2 == 0) for i in range(12)]
    calibration = fit(samples("en", 200, 1) + polish, target=0.95)
    assert calibration.threshold("pl") == 1.0  # no confidence reaches it
    assert calibration.report["pl"]["shown"] == 0.0
    assert calibration.report["pl"]["coverage"] == 0.0
    assert calibration.threshold("en") < 1.0 and calibration.report["en"]["shown"] == 1.0


def test_round_trip_through_a_dict() -> None:
    calibration = fit(samples("en", 120, 3), target=0.9, source="test.csv")
    again = Calibration.from_dict(calibration.to_dict())
    features = [0.6, 0.1, 0.2, 0.4, 0.7, 0.0]
    assert again.confidence(features, "en") == pytest.approx(calibration.confidence(features, "en"))
    assert again.thresholds == calibration.thresholds
    assert again.source == "test.csv"


def test_too_few_examples_of_a_class_is_refused() -> None:
    only_right = [Sample("en", [0.9] * len(FEATURES), True) for _ in range(50)]
    with pytest.raises(CalibrationError, match="out-of-scope rows have an empty"):
        fit(only_right)
    with pytest.raises(CalibrationError, match="target precision"):
        fit(samples("en", 100, 4), target=1.0)


def test_other_features_are_refused_and_a_default_ships() -> None:
    data = fit(samples("en", 120, 5)).to_dict()
    data["features"] = ["dense"]
    with pytest.raises(CalibrationError, match="other features"):
        Calibration.from_dict(data)
    shipped = default()
    assert shipped.source == "default"
    assert 0.5 < shipped.threshold("en") < 1.0
    assert 0.5 < shipped.threshold("pl") <= 1.0


def test_an_unusable_shipped_calibration_hands_everything_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "default_calibration.yaml").write_text(
        "features: [dense]\nmodels: {}\nthresholds: {}\n", encoding="utf-8"
    )
    monkeypatch.setattr(calibration_module.resources, "files", lambda package: tmp_path)
    fallback = default()
    assert fallback.source == "none"
    features = [1.0] * len(FEATURES)
    assert fallback.confidence(features, "en") < fallback.threshold("en") == 1.0
    assert fallback.threshold("pl") == 1.0


def test_a_language_without_questions_keeps_the_inherited_model_and_threshold() -> None:
    shipped = default()
    calibration = fit(samples("en", 200, 1), target=0.95, inherit=shipped)
    # English is fitted here; Polish, absent, is the shipped default's, not the English fit's
    assert calibration.models["pl"] is shipped.models["pl"]
    assert calibration.threshold("pl") == shipped.threshold("pl")
    assert calibration.report["pl"]["inherited"] == 1.0
    assert calibration.report["pl"]["questions"] == 0.0
    assert "inherited" not in calibration.report["en"]
    features = [0.6, 0.1, 0.2, 0.4, 0.7, 0.0, 0.1][: len(FEATURES)]
    assert calibration.confidence(features, "pl") == shipped.confidence(features, "pl")
    # a language with questions of its own is fitted on them, whatever it could inherit
    both = fit(samples("en", 200, 1) + samples("pl", 60, 2), target=0.95, inherit=shipped)
    assert both.models["pl"] is not shipped.models["pl"] and "inherited" not in both.report["pl"]
    # and what is inherited survives storage
    again = Calibration.from_dict(calibration.to_dict())
    assert again.threshold("pl") == shipped.threshold("pl")
