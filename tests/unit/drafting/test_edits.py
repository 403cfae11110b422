"""Edit distance of what an agent sent, against a plain reference implementation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drafting.edits import edit_distance


def reference(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def test_known_distances() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance("same", "same") == 0
    assert edit_distance("Dzień dobry", "Dzien dobry") == 1


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcłż ", max_size=30), st.text(alphabet="abcłż ", max_size=30))
def test_matches_the_reference(a: str, b: str) -> None:
    assert edit_distance(a, b) == reference(a, b)


def test_long_texts_match_the_reference() -> None:
    a = "Thank you for your message. " * 30
    b = a.replace("message", "note").replace("Thank", "Thanks", 5)
    assert edit_distance(a, b) == reference(a, b)
