"""BM25 and its normalisation: Polish inflection and diacritics, English suffixes, idf."""

from __future__ import annotations

import pytest

from knowledge.lexical import BM25, fold, stem, tokens


def test_fold_removes_polish_diacritics() -> None:
    assert fold("Zażółć GĘŚLĄ jaźń, Łódź") == "zazolc gesla jazn, lodz"


@pytest.mark.parametrize(
    "forms",
    [
        ["zamówienie", "zamówienia", "zamówieniu", "zamówieniem", "zamowienie"],
        ["faktura", "fakturę", "faktury", "fakturze"],
        ["paczka", "paczki", "paczkę", "paczką"],
        ["invoice", "invoices"],
        ["cancel", "cancelled", "cancelling", "cancellation"],
        ["get", "getting"],
    ],
)
def test_inflected_forms_share_a_stem(forms: list[str]) -> None:
    stems = {stem(fold(word)) for word in forms}
    assert len(stems) == 1, stems


def test_tokens_drop_stop_words_and_numbers() -> None:
    assert tokens("Where is my order 113542617735902?") == [stem("order")]
    assert tokens("Gdzie jest moja paczka nr 4411") == [stem("paczka")]


def test_bm25_ranks_the_document_sharing_rare_terms_first() -> None:
    index = BM25(
        [
            "how to reset a forgotten password",
            "tracking an order and its delivery",
            "order invoices and order payments",
        ]
    )
    hits = index.search("my password is forgotten")
    assert [hit.doc for hit in hits] == [0]
    ranked = index.search("track my order")
    assert ranked[0].doc == 1
    assert {hit.doc for hit in ranked} == {1, 2}


def test_bm25_matches_polish_inflections() -> None:
    index = BM25(["Śledzenie zamówienia i przesyłki", "Faktury do zamówień"])
    assert index.search("gdzie moja przesyłka")[0].doc == 0
    assert index.search("potrzebuję faktury")[0].doc == 1


def test_no_shared_term_means_no_hits() -> None:
    index = BM25(["reset a password"])
    assert index.search("weather tomorrow") == []
    assert index.scores("weather").tolist() == [0.0]


def test_max_score_bounds_every_score_and_counts_unknown_terms() -> None:
    index = BM25(["reset password", "password change", "order tracking"])
    query = "password reset"
    assert max(index.scores(query)) <= index.max_score(query)
    # a word the corpus never saw makes a one-word match a partial one
    assert index.max_score("password zebra") > index.max_score("password")


def test_empty_corpus_is_searchable() -> None:
    assert BM25([]).search("anything") == []
