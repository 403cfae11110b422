"""The Polish-English gloss that lets Polish questions find English articles."""

from __future__ import annotations

from knowledge.glossary import gloss


def test_gloss_translates_helpdesk_words_in_any_form() -> None:
    words = gloss("Gdzie jest moja paczka?").split()
    assert "where" in words and "package" in words
    assert "invoice" in gloss("potrzebuję faktury za zamówienie").split()
    assert "password" in gloss("zapomniałem hasła").split()


def test_phrases_win_over_single_words() -> None:
    assert "shipping address" in gloss("chcę zmienić adres dostawy")


def test_unknown_words_are_left_out() -> None:
    assert gloss("xyzzy qwerty") == ""
    assert "paypal" in gloss("czy można płacić przez PayPal").split()


def test_no_word_is_repeated() -> None:
    words = gloss("zamówienie zamówienia zamówieniu").split()
    assert len(words) == len(set(words))


def test_exact_words_first_then_the_longest_shared_beginning() -> None:
    # "reklamacja" (complaint) and "reklamowe" (marketing) cut to the same stem
    assert gloss("reklamacja") == "complaint claim warranty"
    assert "complaint" not in gloss("maile reklamowe").split()
    # an inflected form not in the glossary takes the entry it shares most letters with
    assert "marketing" in gloss("reklamowych").split()
    assert gloss("reklamacji") == "complaint claim warranty"


def test_greetings_say_nothing() -> None:
    assert gloss("Dzień dobry, gdzie jest moja paczka? Pozdrawiam") == gloss(
        "gdzie jest moja paczka"
    )
    assert "days" in gloss("dostawa trwa 3 dni").split()
