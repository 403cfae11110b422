"""Builds the ticket service from settings: helpdesk.yaml (or the built-in default) and the
learned department classifier, adapted to the routing package's `LearnedRouter` protocol."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from bots.errors import ConfigError
from bots.settings import Settings
from knowledge.embeddings import Embedder, make_embedder
from knowledge.errors import KnowledgeError
from tickets.config import ConfigFileError, HelpdeskConfig, default_config, load_config
from tickets.routing import LearnedRouter
from tickets.service import Helpdesk

log = logging.getLogger(__name__)

ROUTING_DIR = "routing"


def load_helpdesk_config(settings: Settings) -> HelpdeskConfig:
    """helpdesk.yaml from `RELAYDESK_CONFIG`, or the built-in default when it is unset.

    A wrong file raises `ConfigError` with one line naming the file, the field and why.
    """
    if settings.config_path is None:
        return default_config()
    try:
        return load_config(settings.config_path)
    except ConfigFileError as exc:
        raise ConfigError(str(exc)) from None


class ClassifierRouter:
    """Adapts the knowledge package's example classifier to `tickets.routing.LearnedRouter`."""

    def __init__(self, classifier: Any) -> None:
        self.classifier = classifier

    def predict(self, text: str) -> tuple[str, float] | None:
        """The classifier's best department and its confidence (None without an opinion).

        A classifier that fails (its embedder unreachable, say) has no opinion: the ticket is
        still opened and routed by the rules that do not need it, and the log says why."""
        try:
            prediction = self.classifier.predict(text)
        except KnowledgeError as exc:
            log.warning("learned routing unavailable, routing by rules only: %s", exc)
            return None
        if prediction is None:
            return None
        return str(prediction.label), float(prediction.confidence)


def routing_model_dir(settings: Settings) -> Path:
    """Where `relaydesk route learn` saves the trained classifier."""
    return settings.data_dir / ROUTING_DIR


def load_learned_router(settings: Settings) -> LearnedRouter | None:
    """The trained department classifier, or None when none has been trained yet."""
    folder = routing_model_dir(settings)
    if not folder.exists() or not any(folder.iterdir()):
        return None
    from knowledge.classifier import ExampleClassifier

    try:
        classifier = ExampleClassifier.load(folder, embedder_for(settings))
    except KnowledgeError as exc:
        raise ConfigError(
            f"the learned routing model in {folder} cannot be used: {exc} "
            "(run `relaydesk route learn FILE.csv` again)"
        ) from None
    return ClassifierRouter(classifier)


def embedder_for(settings: Settings) -> Embedder:
    """The configured embedder (`RELAYDESK_EMBEDDER`), with the OpenAI key and base URL."""
    return make_embedder(
        settings.embedder,
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
        base_url=settings.openai_base_url,
    )


def build_helpdesk(settings: Settings, *, learned: bool | None = None) -> Helpdesk:
    """The ticket service for these settings.

    `learned=None` loads the trained classifier only when a routing rule uses it; True loads
    it whenever one has been trained (to explain its guess); False never loads it.
    """
    config = load_helpdesk_config(settings)
    wanted = _uses_learned(config) if learned is None else learned
    return Helpdesk(config, load_learned_router(settings) if wanted else None)


def _uses_learned(config: HelpdeskConfig) -> bool:
    return any(rule.when.learned is not None for rule in config.routing)
