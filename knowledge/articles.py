"""Article content as plain data: validation, content hash, Markdown with front matter.

This is the format of DESIGN.md section 7; the importer reads it, the exporter writes it, and
the store keeps each version of it.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

import yaml

from knowledge.errors import ArticleFormatError

STATUSES = ("draft", "published", "archived")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,159}$")
LANGUAGE = re.compile(r"^[a-z]{2}$")
TEXT_FIELDS = ("slug", "title", "language", "translation_of", "department", "status", "body")
CONTENT_FIELDS = (
    "title",
    "language",
    "translation_of",
    "department",
    "tags",
    "status",
    "questions",
    "body",
)
MAX_TITLE = 200
MAX_DEPARTMENT = 64
MAX_BODY = 200_000
# Characters no database stores as text: NUL (PostgreSQL refuses it) and lone surrogates
# (not Unicode at all; JSON's "\ud800" escapes make them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class ArticleData:
    """One article's content, independent of storage."""

    slug: str
    title: str
    body: str
    language: str = "en"
    translation_of: str | None = None
    department: str | None = None
    tags: tuple[str, ...] = ()
    status: str = "draft"
    questions: tuple[str, ...] = field(default_factory=tuple)

    @property
    def group(self) -> str:
        """The translation group: every translation of one article shares it."""
        return self.translation_of or self.slug

    def content_hash(self) -> str:
        """A digest of everything an import compares (same content -> same hash)."""
        data = {name: getattr(self, name) for name in CONTENT_FIELDS}
        data["tags"] = list(self.tags)
        data["questions"] = list(self.questions)
        raw = json.dumps(data, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        data = asdict(self)
        data["tags"] = list(self.tags)
        data["questions"] = list(self.questions)
        return data

    def with_status(self, status: str) -> ArticleData:
        return replace(self, status=status)

    def changed_fields(self, other: ArticleData) -> list[str]:
        """Names of the content fields that differ between `self` and `other`."""
        return [name for name in CONTENT_FIELDS if getattr(self, name) != getattr(other, name)]


def slugify(text: str) -> str:
    """A slug made from a title or question: ASCII, lower case, words joined by ``-``."""
    folded = unicodedata.normalize("NFKD", text.lower().replace("ł", "l"))
    ascii_text = "".join(ch for ch in folded if not unicodedata.combining(ch))
    words = re.findall(r"[a-z0-9]+", ascii_text)
    slug = "-".join(words)[:80].strip("-")
    return slug or "article"


def storable(text: str, name: str) -> str:
    """`text`, unless it holds a character no database stores (see `_UNSTORABLE`): then
    ArticleFormatError names the field."""
    found = _UNSTORABLE.search(text)
    if found is not None:
        what = "a NUL character" if found.group() == "\x00" else "a lone surrogate (not Unicode)"
        raise ArticleFormatError(f"field '{name}': contains {what}")
    return text


def _string(value: Any, name: str, *, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ArticleFormatError(f"field '{name}': is required")
        return None
    if isinstance(value, bool | date):  # YAML reads `no`, `on`, `2024-01-31` so
        raise ArticleFormatError(
            f"field '{name}': must be text, got {type(value).__name__} {value!s:.20} "
            "(put it in quotes)"
        )
    if not isinstance(value, str | int | float):
        raise ArticleFormatError(f"field '{name}': must be text, got {type(value).__name__}")
    return storable(str(value).strip(), name)


def _string_list(value: Any, name: str, *, separators: str = "") -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        if separators:
            parts = re.split(f"[{re.escape(separators)}]", storable(value, name))
            return tuple(p.strip() for p in parts if p.strip())
        return (storable(value.strip(), name),)
    if not isinstance(value, list):
        raise ArticleFormatError(f"field '{name}': must be a list, got {type(value).__name__}")
    out = []
    for position, item in enumerate(value, start=1):
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            raise ArticleFormatError(f"field '{name}': item {position} must be text")
        text = storable(str(item).strip(), name)
        if text:
            out.append(text)
    return tuple(out)


KNOWN_FIELDS = frozenset(
    {
        "slug",
        "title",
        "language",
        "translation_of",
        "department",
        "tags",
        "status",
        "questions",
        "body",
    }
)


def from_fields(
    fields: dict[str, Any],
    *,
    default_status: str = "draft",
    list_separators: str = "",
) -> ArticleData:
    """Validate raw fields (from front matter, a CSV row or a JSON line) into an article.

    Raises ArticleFormatError naming the field and why; the caller adds the file and line.
    """
    unknown = sorted(set(fields) - KNOWN_FIELDS)
    if unknown:
        raise ArticleFormatError(
            f"field '{unknown[0]}': unknown (known: {', '.join(sorted(KNOWN_FIELDS))})"
        )
    title = _string(fields.get("title"), "title", required=True)
    body = fields.get("body")
    if body is None or (isinstance(body, str) and not body.strip()):
        raise ArticleFormatError("field 'body': is empty")
    if not isinstance(body, str):
        raise ArticleFormatError(f"field 'body': must be text, got {type(body).__name__}")
    assert title is not None
    if len(title) > MAX_TITLE:
        raise ArticleFormatError(f"field 'title': longer than {MAX_TITLE} characters")
    if len(body) > MAX_BODY:
        raise ArticleFormatError(f"field 'body': longer than {MAX_BODY} characters")
    storable(body, "body")
    slug = _string(fields.get("slug"), "slug") or slugify(title)
    if not SLUG.match(slug):
        raise ArticleFormatError(
            f"field 'slug': {slug!r} must be lower-case letters, digits, '_', '-' or '.'"
        )
    language = (_string(fields.get("language"), "language") or "en").lower()
    if not LANGUAGE.match(language):
        raise ArticleFormatError(
            f"field 'language': {language!r} is not a two-letter ISO 639-1 code"
        )
    translation_of = _string(fields.get("translation_of"), "translation_of")
    if translation_of is not None and not SLUG.match(translation_of):
        raise ArticleFormatError(f"field 'translation_of': {translation_of!r} is not a slug")
    status = (_string(fields.get("status"), "status") or default_status).lower()
    if status not in STATUSES:
        raise ArticleFormatError(f"field 'status': {status!r} is not one of {', '.join(STATUSES)}")
    department = _string(fields.get("department"), "department")
    if department is not None and len(department) > MAX_DEPARTMENT:
        raise ArticleFormatError(f"field 'department': longer than {MAX_DEPARTMENT} characters")
    tags = _string_list(fields.get("tags"), "tags", separators=list_separators or ",")
    questions = _string_list(fields.get("questions"), "questions", separators=list_separators)
    return ArticleData(
        slug=slug,
        title=title,
        body=body.strip() + "\n",
        language=language,
        translation_of=translation_of if translation_of != slug else None,
        department=department,
        tags=tags,
        status=status,
        questions=questions,
    )


def to_markdown(article: ArticleData) -> str:
    """The article as Markdown with YAML front matter (what `kb export` writes)."""
    front: dict[str, Any] = {"slug": article.slug, "title": article.title}
    front["language"] = article.language
    if article.translation_of:
        front["translation_of"] = article.translation_of
    if article.department:
        front["department"] = article.department
    if article.tags:
        front["tags"] = list(article.tags)
    front["status"] = article.status
    if article.questions:
        front["questions"] = list(article.questions)
    header = yaml.safe_dump(front, allow_unicode=True, sort_keys=False, width=1000)
    return f"---\n{header}---\n\n{article.body.strip()}\n"
