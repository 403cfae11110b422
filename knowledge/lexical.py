"""BM25 lexical search with light normalisation for Polish and English (diacritics, inflection).

Tokens are lower-cased, folded to ASCII (``zamówienie`` -> ``zamowienie``), stripped of stop
words and of tokens carrying digits (order numbers and amounts say nothing about the topic),
then cut to a prefix: a crude stemmer that merges most inflected forms of Polish words
(``zamówienia``, ``zamówieniem``) and English plurals and tenses (``invoice``, ``invoices``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

PREFIX = 5
UNKNOWN_WEIGHT = 1.0
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_FOLD = str.maketrans({"ł": "l", "Ł": "l", "đ": "d", "ø": "o", "ß": "ss"})

# Function words of both languages (already folded to ASCII); they carry no topic.
STOP_WORDS = frozenset(
    """
    a an and are as at be been being but by can could did do does doing for from had has have
    having he her here hers him his how i if in into is it its me might must my myself no nor
    not of off on once only or our ours out over own please same she should so some such than
    that the their theirs them then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    am im ive id dont cant wont also just any all would hi hello hey thanks thank there
    i w z ze na nie sie to do jest jak co czy mam moje moj moja moja mnie mi ale po o od dla
    przez jestem chce chcialbym chcialabym prosze dziekuje dzieki juz jeszcze tak ten ta te
    tego tej tym tu tam jak jaki jaka jakie kiedy gdzie dlaczego czemu ktory ktora ktore bo
    lub albo oraz a u za pod nad przy bez by byc byl byla bylo sa ma moge mozna mozesz
    moim mojego mojej moich moje swoj swoje swojego swojej ja ty on ona my wy oni one go jej
    ich nam wam was nas sobie siebie czyli jednak wiec zeby aby gdy jesli jezeli dzien dobry
    witam czesc hej pomoc pomocy pomoz prosic potrzebuje nr
    """.split()
)


def fold(text: str) -> str:
    """Lower-case ASCII form of `text`: diacritics removed (``ł`` -> ``l``, ``ą`` -> ``a``)."""
    lowered = text.lower().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


_EN_SUFFIXES = ("ations", "ation", "ings", "ing", "edly", "ied", "ies", "ed", "es", "ly", "s")
_PL_SUFFIXES = (
    "owania",
    "owanie",
    "owac",
    "ywac",
    "iwac",
    "ami",
    "ach",
    "ach",
    "ego",
    "emu",
    "owi",
    "ych",
    "ymi",
    "iem",
    "iej",
    "ie",
    "ia",
    "iu",
    "om",
    "ow",
    "em",
    "ej",
    "ac",
    "ic",
    "ec",
    "a",
    "e",
    "i",
    "o",
    "u",
    "y",
)


def stem(token: str, prefix: int = PREFIX) -> str:
    """A crude, language-blind stem of a folded token: common English and Polish endings cut,
    then the prefix kept (``getting`` -> ``get``, ``zamowienia`` -> ``zamow``)."""
    word = token
    if len(word) > 4:
        for suffix in _EN_SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                if (
                    suffix in {"ing", "ed", "ings", "edly"}
                    and len(word) > 3
                    and word[-1] == word[-2]
                ):
                    word = word[:-1]  # getting -> get, cancelled -> cancel
                elif suffix in {"ies", "ied"}:
                    word += "y"
                break
        else:
            for suffix in _PL_SUFFIXES:
                if word.endswith(suffix) and len(word) - len(suffix) >= 4:
                    word = word[: -len(suffix)]
                    break
    return word[:prefix]


def polish_stem(token: str, prefix: int = 6) -> str:
    """A longer, Polish-only stem of a folded token (for the glossary, where collisions of
    short prefixes such as ``przesylka``/``przestac`` would mistranslate)."""
    word = token
    for suffix in _PL_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:prefix]


def tokens(text: str, *, prefix: int = PREFIX) -> list[str]:
    """Normalised terms of `text` for BM25 (stop words and tokens with digits dropped)."""
    out = []
    for word in _WORD.findall(fold(text)):
        if word in STOP_WORDS or any(ch.isdigit() for ch in word) or len(word) < 2:
            continue
        out.append(stem(word, prefix))
    return out


@dataclass(frozen=True)
class Hit:
    """A document and its BM25 score."""

    doc: int
    score: float


class BM25:
    """Okapi BM25 over a fixed list of documents, with an inverted index held in numpy arrays.

    `search` scores only the documents sharing a term with the query, so it stays fast on
    tens of thousands of chunks.
    """

    def __init__(self, documents: Sequence[str], *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.size = len(documents)
        term_docs: dict[str, list[int]] = {}
        term_tfs: dict[str, list[int]] = {}
        lengths = np.zeros(self.size, dtype=np.float32)
        for index, document in enumerate(documents):
            counts = Counter(tokens(document))
            lengths[index] = sum(counts.values())
            for term, count in counts.items():
                term_docs.setdefault(term, []).append(index)
                term_tfs.setdefault(term, []).append(count)
        self.lengths = lengths
        average = float(lengths.mean()) if self.size else 0.0
        self.average_length = average or 1.0
        self.idf: dict[str, float] = {}
        self._postings: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]] = {}
        norm = self.k1 * (1 - self.b + self.b * lengths / self.average_length)
        for term, docs in term_docs.items():
            df = len(docs)
            idf = math.log(1 + (self.size - df + 0.5) / (df + 0.5))
            ids = np.asarray(docs, dtype=np.int64)
            tf = np.asarray(term_tfs[term], dtype=np.float32)
            weights = idf * tf * (self.k1 + 1) / (tf + norm[ids])
            self.idf[term] = idf
            self._postings[term] = (ids, weights.astype(np.float32))

    def scores(self, query: str) -> npt.NDArray[np.float32]:
        """BM25 score of every document for `query` (zeros where no term matches)."""
        result = np.zeros(self.size, dtype=np.float32)
        for term in set(tokens(query)):
            posting = self._postings.get(term)
            if posting is not None:
                ids, weights = posting
                result[ids] += weights
        return result

    def max_score(self, query: str) -> float:
        """An upper bound of any document's score for `query`: every term at saturation, terms
        the corpus never saw counted as the rarest (so a question matched on one common word
        out of several does not look like a full match)."""
        rarest = UNKNOWN_WEIGHT * math.log(1 + (self.size + 0.5) / 0.5)
        return sum(self.idf.get(term, rarest) * (self.k1 + 1) for term in set(tokens(query)))

    def coverage(self, query: str) -> float:
        """Share of the query's idf mass made of terms this corpus knows (0 when none)."""
        terms = set(tokens(query))
        if not terms:
            return 0.0
        known = sum(1 for term in terms if term in self.idf)
        return known / len(terms)

    def search(self, query: str, k: int = 10) -> list[Hit]:
        """The `k` best documents with a positive score, best first."""
        scores = self.scores(query)
        candidates = np.flatnonzero(scores > 0)
        if candidates.size == 0:
            return []
        order = candidates[np.argsort(-scores[candidates], kind="stable")][:k]
        return [Hit(int(i), float(scores[i])) for i in order]


def vocabulary(texts: Iterable[str]) -> set[str]:
    """Every normalised term of `texts`."""
    return {term for text in texts for term in tokens(text)}
