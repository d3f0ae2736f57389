"""Is a file Swedish? Function words and letters that Swedish does not share with its neighbours.

Norwegian and Danish share most of Swedish's commonest words (det, som, på, med, har, en, den, kan,
vi, men, om), so a share of "Swedish" function words that includes them passes Norwegian. The check
counts only words each language has and the others lack as words (Swedish *och, att, inte, är*
against Norwegian/Danish *og, ikke, er, til*; English *the, and, of*), and the letters æ and ø,
which Swedish never writes. Chosen over a language-identification library (py3langid, lingua): a
remissvar is long, so a few dozen words decide it; the counts can be shown in the error line; and
nothing is added to install. A Swedish response that quotes a Norwegian report or an English
summary still passes: the document's Swedish words outnumber the quotes' words.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from .lexicon_sv import LANGUAGE_MARKERS

# Norwegian (bokmål, nynorsk) and Danish words that are not Swedish words.
NORDIC_MARKERS = frozenset("""
og ikke ikkje er til fra også jeg eg hvor kor hvordan være vere skal når der kun ved dette disse hvis fordi
bare selv derfor noe noen noget nogen mellom mellem uten uden gjennom gennem mye meget enn ble bli blive
hva hvad etter meg deg seg
""".split())
# Only Norwegian / only Danish among them: which of the two a text is.
NORWEGIAN_ONLY = frozenset("ikkje eg kor vere noe noen mellom uten gjennom mye enn ble bli hva etter nå meg deg seg".split())
DANISH_ONLY = frozenset("noget nogen mellem uden gennem meget end blive hvad mig dig af nu".split())
ENGLISH_MARKERS = frozenset("the and of to is that for with are this be not which have on by from".split())
_WORD = re.compile(r"[a-zåäöæøéü]+")


@dataclass(frozen=True)
class Language:
    """Counts of the marker words of each language among a text's `words`, and of its æ/ø letters."""

    words: int
    swedish: int
    nordic: int
    norwegian: int
    danish: int
    english: int
    nordic_letters: int

    @property
    def swedish_share(self) -> float:
        return self.swedish / self.words if self.words else 0.0

    def likeliest(self) -> str:
        """The language the text reads as: Swedish, Norwegian, Danish, Norwegian or Danish, English, other."""
        nordic = self.nordic + self.nordic_letters
        best = max(("Swedish", self.swedish), ("nordic", nordic), ("English", self.english), key=lambda x: x[1])
        if best[1] == 0:
            return "other"
        if best[0] != "nordic":
            return best[0]
        if self.norwegian > 2 * self.danish:
            return "Norwegian"
        if self.danish > 2 * self.norwegian:
            return "Danish"
        return "Norwegian or Danish"


def identify(text: str) -> Language:
    words = _WORD.findall(text.lower())
    counts = Counter(words)

    def n(markers) -> int:
        return sum(c for w, c in counts.items() if w in markers)

    letters = sum(text.count(c) for c in "æøÆØ")
    return Language(len(words), n(LANGUAGE_MARKERS), n(NORDIC_MARKERS), n(NORWEGIAN_ONLY), n(DANISH_ONLY),
                    n(ENGLISH_MARKERS), letters)


def floor_percent(x: float) -> str:
    """A share as a percentage rounded down to 0.1%, a limit (`up`) rounded up: a share below a limit
    always reads below it (9.96% against 10% reads 9.9% … needs 10.0%, not 10% … needs 10%)."""
    return f"{math.floor(round(x * 1000, 6)) / 10:.1f}%"


def ceil_percent(x: float) -> str:
    return f"{math.ceil(round(x * 1000, 6)) / 10:.1f}%"


def not_swedish(text: str, min_share: float, min_words: int = 20) -> str | None:
    """Why `text` is not Swedish prose (one line), or None when it is.

    Swedish needs at least `min_share` of its words to be Swedish-only function words, and more of
    them than of Norwegian/Danish or English ones. Texts under `min_words` words are not judged.
    """
    lang = identify(text)
    if not min_share or lang.words < min_words:
        return None
    reads_as = lang.likeliest()
    if lang.swedish_share >= min_share and reads_as == "Swedish":
        return None
    found = f"{floor_percent(lang.swedish_share)} Swedish function words (och, att, inte, är …) in {lang.words} words"
    if reads_as == "Swedish":  # the most Swedish of the languages here, but too few such words: not prose
        return f"too little Swedish prose ({found}; needs {ceil_percent(min_share)}: ingest.min_swedish)"
    others = {"English": f"{lang.english} English ones (the, and, of …)",
              "other": "none of Norwegian, Danish or English either"}
    other = others.get(reads_as, f"{lang.nordic} Norwegian/Danish ones (og, ikke, er …)"
                                 + (f" and {lang.nordic_letters} æ/ø" if lang.nordic_letters else ""))
    language = "an unrecognised language or no prose" if reads_as == "other" else reads_as
    return f"reads as {language}, not Swedish ({found}, {other}): ingest.min_swedish=0 turns the check off"
