"""Language detection for short customer texts (Polish and English at least).

Short chat messages ("gdzie paczka?", "refund pls") defeat statistical detectors trained on
long text, so this one adds up evidence that works on a few words: Polish letters, common words
of each language (with and without Polish diacritics, since many people type without them) and
spelling patterns typical of each language (``rz``, ``szcz``, ``-ować`` against ``th``,
``-ing``, ``-tion``).
"""

from __future__ import annotations

import re
import unicodedata

SUPPORTED = ("en", "pl")

_POLISH_LETTERS = frozenset("ąćęłńóśźż")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

# Frequent Polish words, folded to ASCII (so "zamowienie" and "zamówienie" both count).
_POLISH_WORDS = frozenset(
    """
    i w we z ze na nie sie ze do to jest jak co czy mam moje moj moja mojej moim mojego moich
    mnie mi ale po od dla przez jestem chce chcialbym chcialabym chcialem chcialam prosze
    dziekuje dzieki zamowienie zamowienia zamowieniu zamowieniem zamowic zamowilem zamowilam
    gdzie kiedy dlaczego czemu jaki jaka jakie jakim mozna moge mozesz mozecie jeszcze juz tak
    nic byc byl byla bylo zostal zostala zostalo zostanie konto konta koncie kontem haslo hasla
    haslem platnosc platnosci platnoscia platne faktura fakture faktury fakturze fakturka zwrot
    zwrotu zwrocic zwroc zwrotem dostawa dostawy dostawe dostawie paczka paczki paczke paczce
    paczek przesylka przesylki przesylke kurier kuriera witam dzien dobry dobrze czesc hej siema
    potrzebuje pomocy pomoc pomoz pomozcie rozmawiac czlowiekiem czlowieka konsultantem
    konsultanta anulowac anuluj zmienic zmiana zmienic adres adresu adresem ktory ktora ktore
    ktorego gdy jesli jezeli bo lub albo oraz tylko bardzo juz teraz dzisiaj wczoraj jutro
    nadal wciaz dalej jeszcze sa ma maja mamy macie musze musi trzeba czekam czekac sprawdzic
    sprawdz status reklamacja reklamacje reklamacji towar towaru produkt produktu sklep sklepu
    pieniadze pieniedzy karta karty karte karta przelew przelewu blik nie ma nigdy zawsze
    zalogowac zalogowac logowanie rejestracja zarejestrowac usunac usuniecie subskrypcja
    newsletter newslettera opinie opinia skarga skarge kontakt kontaktu telefon numer numeru
    ile kosztuje koszt kosztow termin terminie czas dni dnia tydzien tygodnia przyszla przyszlo
    doszla doszlo dotarla dotarlo nie dotarla wyslac wyslana wyslane wysylka wysylki odebrac
    odbior jak sie ten ta te tego tej tym tu tam tutaj pan pani panstwa mi sie wam nam was nas
    """.split()
)
_ENGLISH_WORDS = frozenset(
    """
    the a an and or is are was were be been being to of in on for with my me i you your it
    its this that these those what where when why how which who can could would should will
    shall do does did done have has had not no yes please thanks thank order orders ordered
    account password payment pay paid invoice invoices bill refund refunds delivery deliver
    delivered shipping ship shipped help want wanted need needed speak talk agent human
    hello hi hey there here from by at as about get got still yet just some any all know
    tell let like make made sent send receive received money card cancel cancelled canceled
    change changed address email mail phone number status check track tracking package
    parcel item items arrive arrived never ever again already today yesterday tomorrow
    day days week weeks problem issue issues wrong broken return returned returns cost costs
    much many long time someone anyone person people customer service support contact
    am im dont doesnt didnt cant wont isnt arent wasnt havent login log sign up set new
    """.split()
)

# Spelling patterns on folded words, with weights.
_POLISH_PATTERNS = (
    (re.compile(r"rz|sz|cz|dz|prz|ch[aeiouy]"), 0.6),
    (re.compile(r"(?:owac|ywac|iwac|ac|ic|ec)$"), 0.8),
    (re.compile(r"(?:ego|emu|ych|ymi|ami|ach|owi|owie|ow|iem|ie|ia|iu|em|ce)$"), 0.6),
    (re.compile(r"^(?:w|z|s)[bcdfghjklmnprstwz]"), 0.5),
    (re.compile(r"[bcdfghklmnprstwz]y[bcdfghklmnprstwz]"), 0.4),
    (re.compile(r"j[aeiou]|[aeiou]j"), 0.3),
    (re.compile(r"w[aeioy]"), 0.3),
)
_ENGLISH_PATTERNS = (
    (re.compile(r"th|wh|sh|ph"), 0.8),
    (re.compile(r"(?:ing|tion|sion|ness|ment|able|ight|ould|ly|ed)$"), 1.0),
    (re.compile(r"ee|oo|ea|ou|ck|x|q"), 0.5),
    (re.compile(r"^(?:un|re)[a-z]{3,}"), 0.2),
    (re.compile(r"[^aeiou]e$"), 0.3),
)


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.replace("ł", "l"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def scores(text: str) -> dict[str, float]:
    """Evidence for each supported language in `text` (higher is stronger)."""
    words = [w.lower() for w in _WORD.findall(text)]
    polish = 0.0
    english = 0.0
    for word in words:
        letters = sum(1 for ch in word if ch in _POLISH_LETTERS)
        polish += 2.5 * min(letters, 2)
        folded = _fold(word)
        in_pl = folded in _POLISH_WORDS
        in_en = word in _ENGLISH_WORDS
        if in_pl and not in_en:
            polish += 2.0
        elif in_en and not in_pl:
            english += 2.0
        elif in_pl and in_en:  # "i", "to", "a": weak, split
            polish += 0.5
            english += 0.5
        if in_pl or in_en or len(folded) < 3:
            continue
        polish += sum(weight for pattern, weight in _POLISH_PATTERNS if pattern.search(folded))
        english += sum(weight for pattern, weight in _ENGLISH_PATTERNS if pattern.search(folded))
    return {"pl": polish, "en": english}


# Evidence margins: below TIE there is no signal; below SURE a language the conversation
# already has (the customer's app language, their earlier messages) is the better guess. On
# labelled sets, with the right language as that prior, SURE takes wrong guesses from 0.55% to
# 0.06% on bitext's keyword queries ("modify purchase 123"), 0.26% to 0.01% on clinc150 and
# 0.9% to 0% on Polish chat utterances (bench/language_detection.py); without a prior it would
# take short Polish words ("przepraszam") for English, so it is used only where there is one.
TIE = 0.25
SURE = 1.0


def detect(text: str, default: str = "en", *, margin: float = TIE) -> str:
    """Best guess of the language of `text` among SUPPORTED; `default` when the evidence for
    one over the other is below `margin` (`TIE`: no signal at all)."""
    evidence = scores(text)
    polish, english = evidence["pl"], evidence["en"]
    if abs(polish - english) < margin:
        return default
    return "pl" if polish > english else "en"
