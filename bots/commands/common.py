"""Shared plumbing for commands: settings, async running, one-line errors, JSON output."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from functools import wraps
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from bots import logs
from bots.errors import RelaydeskError
from bots.settings import Settings
from tickets.errors import TicketError

P = ParamSpec("P")
T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)

# Errors whose messages are written for users; anything else is a bug and says so.
USER_ERRORS: tuple[type[Exception], ...] = (RelaydeskError, TicketError)


def register_user_errors(*kinds: type[Exception]) -> None:
    """Let another package's error root print as a one-line message (called by bots.cli)."""
    global USER_ERRORS
    USER_ERRORS = tuple(dict.fromkeys((*USER_ERRORS, *kinds)))


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "settings"
        why = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        fail(f"configuration: {where}: {why}")


def setup_logging(settings: Settings) -> None:
    """Logging for a long-running command: ids only, secrets masked (see `bots.logs`)."""
    logs.configure(settings.log_level, settings.secret_values())


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def handle_errors(func: Callable[P, T]) -> Callable[P, T]:
    """Turn known errors into a one-line message and a non-zero exit; never a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except USER_ERRORS as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except OSError as exc:
            fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))

    return wrapper


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


AsyncFn = Callable[..., Awaitable[Any]]
