"""Small talk the engine recognises before the knowledge base: asking for a person, greetings,
thanks. Rules on word stems (Polish and English), tuned for recall on "I want a human"."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _fold(text: str) -> str:
    """Lower case without diacritics, so 'człowiek' and 'czlowiek' compare equal."""
    text = text.lower().replace("ł", "l")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Someone the customer wants to reach instead of the bot.
_PERSON_STEMS = (
    "human",
    "agent",
    "operator",
    "representative",
    "someone",
    "somebody",
    "staff",
    "employee",
    "czlowiek",  # człowiek, człowieka, człowiekiem
    "ludz",  # ludzie, ludźmi
    "konsultant",
    "moderator",
    "osob",  # osoba, osobą, osobę
    "pracownik",
    "kims",  # kimś
    "kimkolwiek",
    "obslug",  # obsługa klienta
    "doradc",  # doradca
)
_PERSON_WORDS = frozenset({"kim", "ktos", "kogos", "person", "people", "persons"})
_CUSTOMER_SERVICE = re.compile(r"\bcustomer (service|support|care)\b")
_NOT_A_BOT = re.compile(
    r"\b(nie (chce|lubie) (z toba )?(rozmawiac z )?(bot|maszyn|tob|rozmawiac)|"
    r"(not|don'?t want( to talk to)?|no) (a )?(bot|robot|machine)|real (person|human))"
)
_REQUEST_WORDS = frozenset(
    """
    talk speak chat connect transfer put get want need give let can could may i to with
    chce chcialbym chcialabym daj dajcie przelacz przelaczcie polacz polaczcie rozmawiac
    porozmawiac mozesz moge czy pozwol mnie mi z ze na do prosze kontakt skontaktowac
    skontaktuj real prawdziw are there any tu jacys kto who customer klienta an a the me
    please
    """.split()
)


def wants_a_person(text: str) -> bool:
    """True when the message asks for a human rather than describing a problem."""
    folded = _fold(text)
    if _NOT_A_BOT.search(folded):
        return True
    folded = _CUSTOMER_SERVICE.sub("agent", folded)
    words = _WORD.findall(folded)
    if not words or len(words) > 14:
        return False
    person = [w for w in words if w.startswith(_PERSON_STEMS) or w in _PERSON_WORDS]
    if not person:
        return False
    # Short requests ("human", "daj konsultanta", "talk to an agent") or ones built around a
    # request verb; a long problem description that merely mentions a person is not a request.
    others = [
        w
        for w in words
        if w not in _REQUEST_WORDS and w not in _PERSON_WORDS and not w.startswith(_PERSON_STEMS)
    ]
    return len(others) <= 3


_GREETINGS = frozenset(
    """
    hi hello hey hiya yo morning evening afternoon good day cześć czesc hej siema siemka
    witam witaj witajcie dzien dobry dobry wieczor elo halo hejka
    """.split()
)
# Thanks, and the words customers wrap it in ("thank you for your help", "ok, dzięki, to
# wszystko"); a word outside these ("thanks, but it never came") makes it a message to answer.
_THANKS_WORDS = frozenset(
    """
    thanks thank thx tnx thanx cheers dzieki dziekuje dziekujemy dziekuwa dzienki dzieks
    podziekowania
    """.split()
)
_ACKNOWLEDGEMENTS = frozenset(
    """
    ok okay okey okej k kk alright fine great super cool perfect good got it understood
    dobrze dobra jasne rozumiem spoko swietnie git
    """.split()
)
_THANKS_FILLER = _ACKNOWLEDGEMENTS | frozenset(
    """
    you so much very a lot many for your the help all that this helped works worked again
    really in advance everything
    bardzo wielkie serdeczne serdecznie za pomoc wszystko to pomoglo dziala juz i pozdrawiam
    """.split()
)


def is_greeting(text: str) -> bool:
    """A message that only says hello."""
    words = _WORD.findall(_fold(text))
    return 0 < len(words) <= 3 and all(w in _GREETINGS for w in words)


def is_thanks(text: str) -> bool:
    """A message that only says thank you."""
    words = _WORD.findall(_fold(text))
    if words == ["ty"]:
        return True
    return (
        0 < len(words) <= 8
        and any(w in _THANKS_WORDS for w in words)
        and all(w in _THANKS_WORDS or w in _THANKS_FILLER for w in words)
    )


def is_acknowledgement(text: str) -> bool:
    """A message that only says "ok" ("okay", "got it", "jasne", "super")."""
    words = _WORD.findall(_fold(text))
    return 0 < len(words) <= 3 and all(w in _ACKNOWLEDGEMENTS for w in words)
