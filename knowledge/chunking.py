"""Splitting articles into retrievable units: the title, each example question, and the body
cut at its headings (long sections further cut at paragraph boundaries)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.articles import ArticleData

MAX_CHUNK_CHARS = 900
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"[*_`>|]+|^\s*[-+]\s+|^\s*\d+\.\s+", re.MULTILINE)

KINDS = ("title", "question", "chunk")


@dataclass(frozen=True)
class Unit:
    """One retrievable piece of an article."""

    id: str
    slug: str
    kind: str  # title | question | chunk
    text: str  # what is embedded and matched
    passage: str  # what a customer is shown when this unit answers (Markdown)
    position: int


@dataclass(frozen=True)
class Section:
    """A heading and the Markdown under it (heading is None before the first heading)."""

    heading: str | None
    text: str


def sections(body: str) -> list[Section]:
    """The body split at Markdown headings; empty sections are dropped."""
    found: list[Section] = []
    heading: str | None = None
    lines: list[str] = []
    in_code = False

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            found.append(Section(heading, text))

    for line in body.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        match = None if in_code else _HEADING.match(line)
        if match:
            flush()
            heading = match.group(2).strip()
            lines = []
        else:
            lines.append(line)
    flush()
    return found


def plain(markdown: str) -> str:
    """Markdown reduced to its words (links keep their text)."""
    text = _LINK.sub(r"\1", markdown)
    text = _MARKUP.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


def _pieces(text: str, limit: int = MAX_CHUNK_CHARS) -> list[str]:
    """`text` cut at paragraph (then sentence) boundaries into pieces of at most ~`limit`."""
    if len(text) <= limit:
        return [text]
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    parts: list[str] = []
    for paragraph in paragraphs:
        if len(paragraph) <= limit:
            parts.append(paragraph)
            continue
        sentences = re.split(r"(?<=[.!?])\s+", paragraph)
        current = ""
        for sentence in sentences:
            if current and len(current) + len(sentence) + 1 > limit:
                parts.append(current)
                current = sentence
            else:
                current = f"{current} {sentence}".strip()
        if current:
            parts.append(current)
    pieces: list[str] = []
    current = ""
    for part in parts:
        if current and len(current) + len(part) + 2 > limit:
            pieces.append(current)
            current = part
        else:
            current = f"{current}\n\n{part}" if current else part
    if current:
        pieces.append(current)
    return pieces


def units(article: ArticleData) -> list[Unit]:
    """Every retrievable unit of `article`, in order: title, questions, body chunks."""
    out = [Unit(f"{article.slug}#t", article.slug, "title", article.title, "", 0)]
    for position, question in enumerate(article.questions, start=1):
        out.append(Unit(f"{article.slug}#q{position}", article.slug, "question", question, "", 0))
    position = 0
    for section in sections(article.body):
        heading = section.heading
        same_as_title = heading is not None and heading.strip().lower() == article.title.lower()
        for piece in _pieces(section.text):
            position += 1
            context = article.title if heading is None or same_as_title else heading
            text = f"{context}. {plain(piece)}"
            passage = piece if heading is None or same_as_title else f"{heading}\n\n{piece}"
            out.append(
                Unit(f"{article.slug}#c{position}", article.slug, "chunk", text, passage, position)
            )
    return out


def first_passage(article: ArticleData) -> str:
    """The passage shown when an article answers through its title or an example question."""
    for unit in units(article):
        if unit.kind == "chunk":
            return unit.passage
    return article.body.strip()
