"""The one loader of prompt templates (Jinja2 files shipped in the `prompts` package).

Templates are rendered with `StrictUndefined` (a missing variable is an error, not an empty
string) and a `data` filter that escapes `&`, `<`, `>` and quotes, so customer text and
knowledge passages stay inside the tags that mark them as data.
"""

from __future__ import annotations

import hashlib
import html
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from drafting.errors import PromptError

TEMPLATES = (
    "system",
    "ticket_message",
    "reply_draft",
    "summary",
    "tone",
    "translate",
    "kb_article",
)
SUFFIX = ".j2"


def escape_data(value: object) -> str:
    """Text made safe to sit between data tags: it cannot close or open a tag."""
    return html.escape(str(value), quote=True)


class PromptLibrary:
    """Renders the templates of one folder and fingerprints their text."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or Path(str(resources.files("prompts")))
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.directory)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.filters["data"] = escape_data

    def names(self) -> list[str]:
        """Names of every template in the folder (without the suffix)."""
        return sorted(p.name[: -len(SUFFIX)] for p in self.directory.glob(f"*{SUFFIX}"))

    def source(self, name: str) -> str:
        """The text of template `name`."""
        path = self.directory / f"{name}{SUFFIX}"
        try:
            return path.read_text(encoding="utf-8")
        except OSError:
            raise PromptError(f"prompt template {name!r} is missing") from None

    def fingerprint(self, *names: str) -> str:
        """sha256 (hex) of the texts of the templates that build one prompt, in order."""
        digest = hashlib.sha256()
        for name in names:
            digest.update(name.encode())
            digest.update(b"\0")
            digest.update(self.source(name).encode("utf-8"))
            digest.update(b"\0")
        return digest.hexdigest()

    def render(self, name: str, **variables: Any) -> str:
        """Template `name` rendered with `variables`; surrounding blank lines removed."""
        try:
            template = self.env.get_template(f"{name}{SUFFIX}")
            return template.render(**variables).strip()
        except jinja2.TemplateNotFound:
            raise PromptError(f"prompt template {name!r} is missing") from None
        except jinja2.UndefinedError as exc:
            raise PromptError(f"prompt template {name!r}: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise PromptError(f"prompt template {name!r} is broken: {exc}") from None


@cache
def default_library() -> PromptLibrary:
    """The templates shipped with relaydesk."""
    return PromptLibrary()
