"""Articles cut into retrievable units: title, example questions, body sections."""

from __future__ import annotations

from knowledge.articles import ArticleData
from knowledge.chunking import MAX_CHUNK_CHARS, first_passage, plain, sections, units

BODY = """# Returns

You can return anything within 30 days.

## Costs

Returns by parcel locker are free.

## What cannot be returned

Gift cards.
"""


def test_sections_follow_headings() -> None:
    found = sections(BODY)
    assert [(s.heading, s.text) for s in found] == [
        ("Returns", "You can return anything within 30 days."),
        ("Costs", "Returns by parcel locker are free."),
        ("What cannot be returned", "Gift cards."),
    ]


def test_headings_inside_code_blocks_are_text() -> None:
    found = sections("intro\n```\n# not a heading\n```\n")
    assert len(found) == 1 and "# not a heading" in found[0].text


def test_units_cover_title_questions_and_chunks() -> None:
    article = ArticleData(
        slug="returns", title="Returns", body=BODY, questions=("Can I return?", "Is it free?")
    )
    found = units(article)
    assert [u.kind for u in found] == ["title", "question", "question", "chunk", "chunk", "chunk"]
    assert [u.id for u in found][:3] == ["returns#t", "returns#q1", "returns#q2"]
    costs = found[4]
    assert costs.text == "Costs. Returns by parcel locker are free."
    assert costs.passage == "Costs\n\nReturns by parcel locker are free."
    # the section under the title heading keeps the title as context, not a repeated heading
    assert found[3].text.startswith("Returns. You can")
    assert found[3].passage == "You can return anything within 30 days."
    assert first_passage(article) == "You can return anything within 30 days."


def test_long_sections_are_cut_at_paragraphs() -> None:
    paragraph = "This sentence talks about deliveries and parcels. " * 8
    body = "\n\n".join([paragraph.strip()] * 6)
    found = [u for u in units(ArticleData(slug="d", title="D", body=body)) if u.kind == "chunk"]
    assert len(found) > 1
    assert all(len(u.passage) <= MAX_CHUNK_CHARS for u in found)
    assert [u.position for u in found] == list(range(1, len(found) + 1))


def test_plain_drops_markup_but_keeps_link_text() -> None:
    assert plain("**Open** [My account](https://x.example) → `Orders`") == (
        "Open My account → Orders"
    )
