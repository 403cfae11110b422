"""Reading articles from files: Markdown with front matter, CSV and JSON Lines.

Every problem is reported with the file, the line and the field, and nothing is imported
while any file is bad.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from knowledge.articles import KNOWN_FIELDS, SLUG, ArticleData, from_fields, to_markdown
from knowledge.errors import ArticleFormatError
from knowledge.evaluation import csv_problem, repeated_column, row_line
from knowledge.language import detect

SUFFIXES = (".md", ".markdown", ".csv", ".jsonl")
_FENCE = re.compile(r"^---\s*$")
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Source:
    """Where an article came from, for messages."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class Parsed:
    """The articles found under a path, with where each came from, and what went wrong."""

    articles: list[tuple[ArticleData, Source]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def raise_errors(self) -> None:
        """Raise the first error (the rest are in `errors`) if any file was bad."""
        if self.errors:
            more = len(self.errors) - 1
            suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more else ""
            raise ArticleFormatError(self.errors[0] + suffix)


def files_under(path: Path) -> list[Path]:
    """The importable files at `path` (a file, or a folder searched recursively), sorted."""
    if not path.exists():
        raise ArticleFormatError(f"{path}: no such file or folder")
    if not (path.is_file() or path.is_dir()):
        raise ArticleFormatError(f"{path}: not a regular file or a folder")
    if path.is_file():
        if path.suffix.lower() not in SUFFIXES:
            raise ArticleFormatError(
                f"{path}: cannot import a '{path.suffix}' file (use .md, .csv or .jsonl)"
            )
        return [path]
    found = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not found:
        raise ArticleFormatError(f"{path}: no .md, .csv or .jsonl files in this folder")
    return found


def parse_path(path: Path, *, default_status: str = "draft") -> Parsed:
    """Read every article under `path`; problems are collected, not raised."""
    result = Parsed()
    for file in files_under(path):
        suffix = file.suffix.lower()
        try:
            if suffix in {".md", ".markdown"}:
                result.articles.append(
                    (parse_markdown(file, default_status=default_status), Source(str(file), 1))
                )
            elif suffix == ".csv":
                for article, source in parse_csv(file, default_status, result.warnings):
                    result.articles.append((article, source))
            else:
                for article, source in parse_jsonl(file, default_status):
                    result.articles.append((article, source))
        except ArticleFormatError as exc:
            result.errors.append(str(exc))
        except UnicodeDecodeError as exc:
            result.errors.append(f"{file}: not UTF-8 text (byte {exc.start})")
    if not result.articles and not result.errors:
        result.errors.append(f"{path}: no articles in it")
    seen: dict[str, Source] = {}
    for article, source in result.articles:
        if article.slug in seen:
            result.errors.append(
                f"{source}: field 'slug': {article.slug!r} is also used at {seen[article.slug]}"
            )
        else:
            seen[article.slug] = source
    return result


def _field_line(front: str, name: str) -> int:
    """1-based line of `name:` inside the front matter text (the fence is line 1)."""
    for number, line in enumerate(front.splitlines(), start=2):
        if re.match(rf"^{re.escape(name)}\s*:", line):
            return number
    return 1


def _field_of(message: str) -> str | None:
    match = re.match(r"field '([^']+)'", message)
    return match.group(1) if match else None


def parse_markdown(path: Path, *, default_status: str = "draft") -> ArticleData:
    """One article from a Markdown file with YAML front matter (DESIGN.md section 7).

    A file without front matter is accepted when it starts with a `# Title` heading; its slug
    is the file name.
    """
    text = path.read_text(encoding="utf-8").lstrip("\ufeff")
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ArticleFormatError(f"{path}:{line}: contains a NUL character (not a text file?)")
    lines = text.splitlines()
    front_text = ""
    fields: dict[str, Any]
    if lines and _FENCE.match(lines[0]):
        end = next((i for i in range(1, len(lines)) if _FENCE.match(lines[i])), None)
        if end is None:
            raise ArticleFormatError(f"{path}:1: front matter is not closed by a '---' line")
        front_text = "\n".join(lines[1:end])
        try:
            loaded = yaml.safe_load(front_text) if front_text.strip() else {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = (mark.line + 2) if mark is not None else 1
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise ArticleFormatError(f"{path}:{line}: front matter: {problem}") from None
        if not isinstance(loaded, dict):
            raise ArticleFormatError(f"{path}:2: front matter must be 'name: value' lines")
        fields = {str(k): v for k, v in loaded.items()}
        if "body" in fields:
            raise ArticleFormatError(
                f"{path}:{_field_line(front_text, 'body')}: field 'body': "
                "write the body below the front matter"
            )
        fields["body"] = "\n".join(lines[end + 1 :])
        body_line = end + 2
    else:
        heading = next((_HEADING.match(line) for line in lines if line.strip()), None)
        if heading is None:
            raise ArticleFormatError(
                f"{path}:1: no front matter ('---' … '---') and no '# Title' heading"
            )
        if not SLUG.match(path.stem.lower()):
            raise ArticleFormatError(
                f"{path}:1: without front matter the file name is the slug, and "
                f"{path.stem.lower()!r} is not one (lower-case letters, digits, '_', '-' or '.'): "
                "rename the file or add front matter with a slug"
            )
        fields = {"title": heading.group(1), "slug": path.stem.lower(), "body": text}
        body_line = 1
    if "language" not in fields or fields["language"] in (None, ""):
        fields["language"] = detect(f"{fields.get('title', '')} {fields.get('body', '')}")
    try:
        return from_fields(fields, default_status=default_status)
    except ArticleFormatError as exc:
        name = _field_of(str(exc))
        line = body_line if name == "body" else _field_line(front_text, name or "")
        raise ArticleFormatError(f"{path}:{line}: {exc}") from None


def _row_fields(row: dict[str, Any]) -> dict[str, Any]:
    """Map question/answer rows onto article fields."""
    fields = {k: v for k, v in row.items() if k in KNOWN_FIELDS and v not in (None, "")}
    question = row.get("question")
    answer = row.get("answer")
    if question not in (None, "") and "title" not in fields:
        fields["title"] = question
    if question not in (None, ""):
        existing = fields.get("questions") or []
        if isinstance(existing, str):
            existing = [existing]
        fields["questions"] = [question, *[q for q in existing if q != question]]
    if answer not in (None, "") and "body" not in fields:
        fields["body"] = answer
    if "language" not in fields:
        fields["language"] = detect(f"{fields.get('title', '')} {fields.get('body', '')}")
    return fields


def parse_csv(
    path: Path, default_status: str, warnings: list[str]
) -> Iterator[tuple[ArticleData, Source]]:
    """Articles from a CSV file with question/answer or title/body columns (and optional
    slug, language, translation_of, department, tags, status, questions; lists split on ``|``)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, strict=True)
        try:
            columns = [c.strip() for c in (reader.fieldnames or [])]
        except csv.Error as exc:
            raise ArticleFormatError(f"{path}:1: {csv_problem(exc)}") from None
        if not columns:
            raise ArticleFormatError(f"{path}:1: empty file (expected a header row)")
        reader.fieldnames = columns
        twice = repeated_column(columns, set(KNOWN_FIELDS | {"question", "answer"}))
        if twice is not None:
            raise ArticleFormatError(f"{path}:1: the column {twice!r} is there twice")
        has_qa = {"question", "answer"} <= set(columns)
        has_tb = {"title", "body"} <= set(columns)
        if not (has_qa or has_tb):
            raise ArticleFormatError(
                f"{path}:1: columns must include question and answer, or title and body "
                f"(found: {', '.join(columns)})"
            )
        ignored = [c for c in columns if c not in KNOWN_FIELDS | {"question", "answer"}]
        if ignored:
            warnings.append(f"{path}: ignored columns: {', '.join(ignored)}")
        while True:
            start = reader.line_num + 1  # the line the record being read starts on
            try:
                row = next(reader, None)
            except csv.Error as exc:
                raise ArticleFormatError(f"{path}:{start}: {csv_problem(exc)}") from None
            if row is None:
                break
            line = row_line(reader, row)
            if None in row:
                raise ArticleFormatError(f"{path}:{line}: more values than columns")
            if not any(isinstance(v, str) and v.strip() for v in row.values()):
                continue
            try:
                yield (
                    from_fields(
                        _row_fields(row), default_status=default_status, list_separators="|"
                    ),
                    Source(str(path), line),
                )
            except ArticleFormatError as exc:
                raise ArticleFormatError(f"{path}:{line}: {exc}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def parse_jsonl(path: Path, default_status: str) -> Iterator[tuple[ArticleData, Source]]:
    """Articles from JSON Lines: one object per line with the front matter fields and `body`
    (or `question` and `answer`)."""
    with path.open(encoding="utf-8-sig") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw, parse_constant=_no_constant)
            except json.JSONDecodeError as exc:
                raise ArticleFormatError(f"{path}:{number}: not valid JSON: {exc.msg}") from None
            except ValueError as exc:  # e.g. an integer of more than 4300 digits
                raise ArticleFormatError(
                    f"{path}:{number}: not valid JSON: {str(exc).split(';')[0]}"
                ) from None
            if not isinstance(data, dict):
                raise ArticleFormatError(f"{path}:{number}: each line must be a JSON object")
            extra = sorted(set(data) - KNOWN_FIELDS - {"question", "answer"})
            if extra:
                raise ArticleFormatError(f"{path}:{number}: field '{extra[0]}': unknown")
            try:
                yield (
                    from_fields(_row_fields(data), default_status=default_status),
                    Source(str(path), number),
                )
            except ArticleFormatError as exc:
                raise ArticleFormatError(f"{path}:{number}: {exc}") from None


def write_markdown(article: ArticleData, folder: Path) -> Path:
    """Write `article` as `<slug>.md` in `folder` (what `kb export` does); returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{article.slug}.md"
    target.write_text(to_markdown(article), encoding="utf-8")
    return target
