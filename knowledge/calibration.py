"""Calibrated confidence and per-language answer thresholds.

A small logistic model turns the retrieval features of a question's best match (dense score,
margins to the runner-up, lexical score, cross-lingual or not) into the probability that the
match is right; it is fitted on labelled questions, including out-of-scope ones (expected
empty), which count as wrong whatever they match. For each language the threshold is the
lowest confidence at which the answered questions reach the target precision, judged on
out-of-fold confidences (each question scored by a model fitted without it, as unseen questions
will be) and by the lower bound of the precision's confidence interval (Wilson, one standard
error), not the measured share: a threshold chosen exactly where the calibration questions
reach the target misses it on new questions about half the time. A language whose questions
are too few to show the target at any threshold gets 1.0 (it is always handed off) and its
report says so (`shown` 0). A language absent from the calibration questions keeps the model
and threshold of the calibration it inherits from (the shipped default, which knows English and
Polish; its report says so, `inherited` 1): a model fitted on English questions alone is no
guide to what a Polish question's confidence means (on the bitext articles, calibrated on
English only, Polish was answered at precision 0.878, against 0.964 with the shipped Polish
model). Other languages use the pooled model and threshold (`*`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from knowledge.errors import CalibrationError
from knowledge.retrieval import FEATURES

log = logging.getLogger(__name__)

DEFAULT_TARGET = 0.97
MIN_LANGUAGE_SAMPLES = 40
MIN_CLASS_SAMPLES = 8
FALLBACK = "*"
MIN_ANSWERED = 5
FOLDS = 5
WILSON_Z = 0.25  # standard errors between the measured precision and the one relied on


@dataclass(frozen=True)
class Sample:
    """One labelled question, as the retriever saw it."""

    language: str
    features: Sequence[float]
    correct: bool  # its top answer is the expected article (False when out of scope)
    in_scope: bool = True


@dataclass
class Logistic:
    """p = sigmoid(w . (x - mean) / scale + bias)."""

    weights: list[float]
    bias: float
    mean: list[float]
    scale: list[float]

    def __call__(self, x: Sequence[float]) -> float:
        z = self.bias
        for w, v, m, s in zip(self.weights, x, self.mean, self.scale, strict=False):
            z += w * (v - m) / s
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def to_dict(self) -> dict[str, Any]:
        return {"weights": self.weights, "bias": self.bias, "mean": self.mean, "scale": self.scale}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Logistic:
        return cls(
            weights=[float(v) for v in data["weights"]],
            bias=float(data["bias"]),
            mean=[float(v) for v in data["mean"]],
            scale=[float(v) for v in data["scale"]],
        )


def fit_logistic(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], *, l2: float = 0.01
) -> Logistic:
    """Logistic regression by Newton's method on standardised features (L2-regularised)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    z = (x - mean) / scale
    design = np.hstack([z, np.ones((len(z), 1))])
    weights = np.zeros(design.shape[1])
    penalty = np.eye(design.shape[1]) * l2 * len(z)
    penalty[-1, -1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ weights, -30, 30)))
        gradient = design.T @ (p - y) + penalty @ weights
        hessian = (design * (p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian + 1e-9 * np.eye(len(weights)), gradient)
        weights -= step
        if np.abs(step).max() < 1e-7:
            break
    return Logistic(
        weights=[float(w) for w in weights[:-1]],
        bias=float(weights[-1]),
        mean=[float(m) for m in mean],
        scale=[float(s) for s in scale],
    )


def wilson_lower(right: int, total: int, z: float = WILSON_Z) -> float:
    """Lower end of the Wilson score interval of a proportion `right / total`."""
    if total <= 0:
        return 0.0
    p = right / total
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return (p + z * z / (2 * total) - spread) / (1 + z * z / total)


def choose_threshold(
    confidences: Sequence[float], correct: Sequence[bool], target: float
) -> tuple[float, float, float]:
    """The lowest threshold whose answered set (at least MIN_ANSWERED) reaches `target`
    precision at the lower end of its Wilson interval; returns (threshold, measured
    precision, share answered). 1.0 if none does."""
    pairs = sorted(zip(confidences, correct, strict=True), key=lambda p: -p[0])
    best = (1.0, 1.0, 0.0)
    right = 0
    for answered, (confidence, ok) in enumerate(pairs, start=1):
        right += int(ok)
        is_last_of_tie = answered == len(pairs) or pairs[answered][0] < confidence
        if not is_last_of_tie:
            continue
        if answered >= MIN_ANSWERED and wilson_lower(right, answered) >= target:
            best = (float(confidence), right / answered, answered / len(pairs))
    return best


@dataclass
class Calibration:
    """Confidence models and thresholds per language (`*` for languages without their own)."""

    models: dict[str, Logistic]
    thresholds: dict[str, float]
    target: float = DEFAULT_TARGET
    report: dict[str, dict[str, float]] = field(default_factory=dict)
    source: str = "default"

    def _model(self, language: str) -> Logistic:
        return self.models.get(language) or self.models[FALLBACK]

    def confidence(self, features: Sequence[float], language: str) -> float:
        """The probability that the best match is right."""
        return self._model(language)(features)

    def threshold(self, language: str) -> float:
        """The confidence from which the bot answers in `language`."""
        return self.thresholds.get(language, self.thresholds[FALLBACK])

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(FEATURES),
            "models": {k: m.to_dict() for k, m in self.models.items()},
            "thresholds": self.thresholds,
            "target": self.target,
            "report": self.report,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        if list(data.get("features", [])) != list(FEATURES):
            raise CalibrationError("the stored calibration uses other features: recalibrate")
        models = {k: Logistic.from_dict(v) for k, v in data["models"].items()}
        thresholds = {k: float(v) for k, v in data["thresholds"].items()}
        if FALLBACK not in models or FALLBACK not in thresholds:
            raise CalibrationError("the stored calibration has no fallback model")
        return cls(
            models=models,
            thresholds=thresholds,
            target=float(data.get("target", DEFAULT_TARGET)),
            report={k: dict(v) for k, v in (data.get("report") or {}).items()},
            source=str(data.get("source", "calibrated")),
        )


def _arrays(items: Sequence[Sample]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    x = np.array([list(s.features) for s in items], dtype=np.float64)
    y = np.array([1.0 if s.correct else 0.0 for s in items])
    return x, y


def _out_of_fold(items: Sequence[Sample], full: Logistic) -> list[float]:
    """Each question's confidence from a model fitted without it (FOLDS interleaved folds),
    so thresholds are chosen on honest, not in-sample, confidences."""
    x, y = _arrays(items)
    out = np.zeros(len(items))
    for fold in range(FOLDS):
        held = np.arange(len(items)) % FOLDS == fold
        if not held.any():
            continue
        train_y = y[~held]
        if min(train_y.sum(), len(train_y) - train_y.sum()) < 2:
            model = full
        else:
            model = fit_logistic(x[~held], train_y)
        out[held] = [model(row) for row in x[held]]
    return [float(c) for c in out]


def fit(
    samples: Sequence[Sample],
    *,
    target: float = DEFAULT_TARGET,
    source: str = "",
    inherit: Calibration | None = None,
) -> Calibration:
    """Fit confidence models and thresholds on labelled questions; languages of `inherit`
    that no question is in keep its model and threshold."""
    if not 0.5 <= target < 1.0:
        raise CalibrationError(f"the target precision must be in [0.5, 1), not {target}")
    positives = sum(1 for s in samples if s.correct)
    negatives = len(samples) - positives
    if positives < MIN_CLASS_SAMPLES or negatives < MIN_CLASS_SAMPLES:
        raise CalibrationError(
            f"calibration needs at least {MIN_CLASS_SAMPLES} questions the knowledge base answers "
            f"right and {MIN_CLASS_SAMPLES} it should not answer (out-of-scope rows have an empty "
            f"expected column); got {positives} and {negatives}"
        )

    models = {FALLBACK: fit_logistic(*_arrays(samples))}
    languages = sorted({s.language for s in samples})
    for language in languages:
        mine = [s for s in samples if s.language == language]
        right = sum(1 for s in mine if s.correct)
        if len(mine) >= MIN_LANGUAGE_SAMPLES and min(right, len(mine) - right) >= MIN_CLASS_SAMPLES:
            models[language] = fit_logistic(*_arrays(mine))
    thresholds: dict[str, float] = {}
    report: dict[str, dict[str, float]] = {}
    pooled = _out_of_fold(samples, models[FALLBACK])
    for language in [*languages, FALLBACK]:
        chosen = [i for i, s in enumerate(samples) if language in (FALLBACK, s.language)]
        mine = [samples[i] for i in chosen]
        correct = [s.correct for s in mine]
        if language in models and language != FALLBACK:
            confidences = _out_of_fold(mine, models[language])
        else:
            confidences = [pooled[i] for i in chosen]
        threshold, _, answered = choose_threshold(confidences, correct, target)
        thresholds[language] = threshold
        report[language] = _report(confidences, mine, threshold, shown=answered > 0)
    if inherit is not None:
        for language, model in inherit.models.items():
            if language == FALLBACK or language in languages:
                continue
            models[language] = model
            thresholds[language] = inherit.threshold(language)
            report[language] = {
                **inherit.report.get(language, {}),
                "questions": 0.0,
                "threshold": round(inherit.threshold(language), 4),
                "inherited": 1.0,
            }
    return Calibration(
        models=models, thresholds=thresholds, target=target, report=report, source=source
    )


def _report(
    confidences: Sequence[float], samples: Sequence[Sample], threshold: float, *, shown: bool
) -> dict[str, float]:
    """How a threshold does on the calibration questions themselves (out-of-fold)."""
    answered = [s for c, s in zip(confidences, samples, strict=True) if c >= threshold]
    in_scope = [s for s in samples if s.in_scope]
    out_scope = [s for s in samples if not s.in_scope]
    return {
        "questions": float(len(samples)),
        "threshold": round(threshold, 4),
        "precision": round(sum(s.correct for s in answered) / len(answered), 4)
        if answered
        else 1.0,
        "coverage": round(sum(1 for s in answered if s.in_scope) / max(len(in_scope), 1), 4),
        "out_of_scope_answered": round(
            sum(1 for s in answered if not s.in_scope) / max(len(out_scope), 1), 4
        ),
        "answered": round(len(answered) / max(len(samples), 1), 4),
        "shown": 1.0 if shown else 0.0,
    }


def default() -> Calibration:
    """The calibration shipped with relaydesk (fitted on the demo knowledge base and its
    questions, our own writing), used until `relaydesk kb calibrate` stores one. If it does
    not fit this release's features (while `bench/kb_default_calibration.py` refits it), one
    that hands every question off."""
    text = (
        resources.files("knowledge")
        .joinpath("data/default_calibration.yaml")
        .read_text(encoding="utf-8")
    )
    try:
        calibration = Calibration.from_dict(yaml.safe_load(text))
    except (CalibrationError, KeyError, TypeError, ValueError, AttributeError) as exc:
        log.warning("the shipped calibration is unusable (%s): every question is handed off", exc)
        return never_answer()
    calibration.source = "default"
    return calibration


def never_answer() -> Calibration:
    """A calibration under which no confidence reaches the threshold."""
    neutral = Logistic(
        weights=[0.0] * len(FEATURES),
        bias=0.0,
        mean=[0.0] * len(FEATURES),
        scale=[1.0] * len(FEATURES),
    )
    return Calibration(models={FALLBACK: neutral}, thresholds={FALLBACK: 1.0}, source="none")
