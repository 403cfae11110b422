"""Article files: front matter, CSV and JSON Lines; errors name the file, the line and why."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from knowledge.articles import ArticleData, from_fields, slugify, to_markdown
from knowledge.errors import ArticleFormatError
from knowledge.importer import parse_markdown, parse_path

GOOD = """---
slug: recover_password
title: "Resetting a forgotten password"
language: en
translation_of: recover_password
department: account
tags: [account, login]
status: published
questions:
  - "I forgot my password"
---
# Resetting a forgotten password
Press **Forgot password** on the sign-in page.
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_front_matter_is_read(tmp_path: Path) -> None:
    article = parse_markdown(write(tmp_path, "a.md", GOOD))
    assert article.slug == "recover_password"
    assert article.title == "Resetting a forgotten password"
    assert article.language == "en"
    assert article.translation_of is None  # a translation of itself is no translation
    assert article.group == "recover_password"
    assert article.tags == ("account", "login")
    assert article.status == "published"
    assert article.questions == ("I forgot my password",)
    assert article.body.startswith("# Resetting a forgotten password\nPress")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("status: published", "status: live"), ":8: field 'status': 'live' is not one of"),
        (("language: en", "language: english"), ":4: field 'language': 'english'"),
        (("slug: recover_password", "slug: Bad Slug"), ":2: field 'slug': 'Bad Slug'"),
        (('title: "Resetting a forgotten password"', "title:"), ":3: field 'title': is required"),
        (("tags: [account, login]", "tags: {a: 1}"), ":7: field 'tags': must be a list"),
        (("department: account", "colour: blue"), ":6: field 'colour': unknown"),
    ],
)
def test_bad_fields_name_file_line_and_field(
    tmp_path: Path, change: tuple[str, str], where: str
) -> None:
    path = write(tmp_path, "bad.md", GOOD.replace(*change))
    with pytest.raises(ArticleFormatError) as error:
        parse_markdown(path)
    assert str(error.value).startswith(str(path) + where)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.md", GOOD.replace("tags: [account, login]", "tags: [account"))
    with pytest.raises(ArticleFormatError, match=r"bad\.md:8: front matter"):
        parse_markdown(path)


def test_unclosed_front_matter_and_empty_body(tmp_path: Path) -> None:
    with pytest.raises(ArticleFormatError, match=r"a\.md:1: front matter is not closed"):
        parse_markdown(write(tmp_path, "a.md", "---\ntitle: x\n# body\n"))
    with pytest.raises(ArticleFormatError, match=r"b\.md:4: field 'body': is empty"):
        parse_markdown(write(tmp_path, "b.md", "---\ntitle: x\n---\n\n"))


def test_markdown_without_front_matter_uses_the_heading(tmp_path: Path) -> None:
    article = parse_markdown(
        write(tmp_path, "Gift-Cards.md", "# Gift cards\n\nThey never expire.\n")
    )
    assert (article.slug, article.title, article.status) == ("gift-cards", "Gift cards", "draft")
    with pytest.raises(ArticleFormatError, match="no front matter"):
        parse_markdown(write(tmp_path, "plain.md", "just text\n"))


def test_language_is_detected_when_missing(tmp_path: Path) -> None:
    text = "---\ntitle: Zwrot towaru\n---\nMożesz zwrócić towar w ciągu 30 dni od dostawy.\n"
    assert parse_markdown(write(tmp_path, "zwrot.md", text)).language == "pl"


def test_csv_question_answer_rows(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "faq.csv",
        'question,answer,department,extra\n"Do you ship abroad?","Yes, to the EU.",delivery,x\n'
        '"How do I pay?","By card or BLIK.",billing,y\n',
    )
    parsed = parse_path(path)
    assert parsed.errors == []
    assert parsed.warnings == [f"{path}: ignored columns: extra"]
    first, source = parsed.articles[0]
    assert first.slug == "do-you-ship-abroad"
    assert first.title == "Do you ship abroad?"
    assert first.questions == ("Do you ship abroad?",)
    assert first.department == "delivery"
    assert str(source) == f"{path}:2"


def test_csv_errors_name_the_row_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "faq.csv",
        'title,body,status\nFine,"multi\nline body",draft\nBroken,"text",gone\n',
    )
    parsed = parse_path(path)
    assert len(parsed.errors) == 1
    assert parsed.errors[0].startswith(f"{path}:4: field 'status': 'gone'")
    columns = write(tmp_path, "cols.csv", "name,text\na,b\n")
    assert (
        "columns must include question and answer, or title and body"
        in parse_path(columns).errors[0]
    )


def test_jsonl_errors_name_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kb.jsonl",
        '{"title": "A", "body": "a"}\n\n{"title": "B", "body": \n',
    )
    parsed = parse_path(path)
    assert parsed.errors and parsed.errors[0].startswith(f"{path}:3: not valid JSON")
    unknown = write(tmp_path, "u.jsonl", '{"title": "A", "body": "a", "colour": 1}\n')
    assert parse_path(unknown).errors[0] == f"{unknown}:1: field 'colour': unknown"


def test_duplicate_slugs_name_both_places(tmp_path: Path) -> None:
    write(tmp_path, "a.md", GOOD)
    write(tmp_path, "b.md", GOOD)
    parsed = parse_path(tmp_path)
    assert len(parsed.errors) == 1
    assert "'recover_password' is also used at" in parsed.errors[0]
    with pytest.raises(ArticleFormatError, match="recover_password"):
        parsed.raise_errors()


def test_folder_without_articles_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ArticleFormatError, match=r"no \.md, \.csv or \.jsonl files"):
        parse_path(tmp_path)
    with pytest.raises(ArticleFormatError, match=r"cannot import a '\.txt' file"):
        parse_path(write(tmp_path, "x.txt", "hello"))


def test_markdown_round_trip_keeps_the_content(tmp_path: Path) -> None:
    original = from_fields(
        {
            "slug": "zwroty",
            "title": "Zwroty: 30 dni",
            "language": "pl",
            "translation_of": "returns",
            "tags": ["zwroty"],
            "questions": ["Jak zwrócić?", "Ile mam dni?"],
            "status": "published",
            "body": "# Zwroty\n\nMasz **30 dni**.\n",
        }
    )
    again = parse_markdown(write(tmp_path, "zwroty.md", to_markdown(original)))
    assert again == original
    assert again.content_hash() == original.content_hash()


def test_content_hash_sees_every_content_field() -> None:
    base = ArticleData(slug="a", title="A", body="b\n")
    assert base.content_hash() == ArticleData(slug="a", title="A", body="b\n").content_hash()
    assert base.content_hash() != base.with_status("published").content_hash()
    assert base.changed_fields(base.with_status("archived")) == ["status"]


def test_slugify_folds_polish_letters() -> None:
    assert slugify("Łatwy zwrot — w 30 dni!") == "latwy-zwrot-w-30-dni"


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        # PostgreSQL refuses NUL in text (a traceback); lone surrogates are not Unicode at all
        ("nul.md", b"---\ntitle: T\n---\nbody\x00\n", ":4: contains a NUL character"),
        ("nul.csv", b"title,body\nT,b\x00c\n", ":2: field 'body': contains a NUL character"),
        (
            "nul.jsonl",
            b'{"title": "T", "body": "b\\u0000c"}\n',
            ":1: field 'body': contains a NUL character",
        ),
        (
            "surrogate.jsonl",
            b'{"title": "T\\ud800", "body": "b"}\n',
            ":1: field 'title': contains a lone surrogate (not Unicode)",
        ),
        (
            "department.md",
            b"---\ntitle: T\ndepartment: " + b"d" * 65 + b"\n---\nbody\n",
            ":3: field 'department': longer than 64 characters",
        ),
    ],
)
def test_text_no_database_can_store_is_refused(
    tmp_path: Path, name: str, raw: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(raw)
    [error] = parse_path(path).errors
    assert error.startswith(f"{path}{message}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # a value over the csv module's field limit was a traceback
        ("title,body\nT," + "x" * 140_000 + "\n", ":2: malformed CSV (field larger than"),
        # an unclosed quote swallowed the rest of the file and blamed an empty body
        ('title,body\nA,B\n"C,D\nE,F\n', ":3: a quoted value is not closed"),
        # a repeated column silently lost one of its values
        ("title,body,title\nA,B,C\n", ":1: the column 'title' is there twice"),
        ("title,body\n", ": no articles in it"),
    ],
)
def test_malformed_csv_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "faq.csv", text)
    [error] = parse_path(path).errors
    assert error.startswith(f"{path}{message}")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        # json.loads raises a ValueError (not a JSONDecodeError) for a 5,000-digit number
        ('{"title": ' + "1" * 5000 + ', "body": "b"}', ":1: not valid JSON: Exceeds the limit"),
        ('{"title": NaN, "body": "b"}', ":1: not valid JSON: NaN is not a JSON value"),
    ],
)
def test_jsonl_numbers_json_does_not_have(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, "kb.jsonl", line + "\n")
    [error] = parse_path(path).errors
    assert error.startswith(f"{path}{message}")


def test_what_is_not_a_file_or_folder_or_has_no_articles(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.md"
    os.mkfifo(fifo)
    with pytest.raises(ArticleFormatError, match=r"pipe\.md: not a regular file or a folder$"):
        parse_path(fifo)
    empty = write(tmp_path, "empty.jsonl", "\n")
    assert parse_path(empty).errors == [f"{empty}: no articles in it"]


def test_yaml_values_that_are_not_text_say_to_quote_them(tmp_path: Path) -> None:
    path = write(tmp_path, "no.md", "---\ntitle: T\nlanguage: no\n---\nbody\n")
    with pytest.raises(ArticleFormatError) as error:
        parse_markdown(path)
    assert str(error.value) == (
        f"{path}:3: field 'language': must be text, got bool False (put it in quotes)"
    )


def test_a_file_name_that_cannot_be_a_slug_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, "My notes.md", "# Notes\n\nText.\n")
    with pytest.raises(ArticleFormatError) as error:
        parse_markdown(path)
    assert str(error.value).startswith(
        f"{path}:1: without front matter the file name is the slug, and 'my notes' is not one"
    )
