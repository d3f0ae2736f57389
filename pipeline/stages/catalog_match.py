"""How much a text speaks of each proposal: catalog-derived, compound- and inflection-aware matching.

Everything about the domain comes from the catalog. A proposal's words are those of its title,
summary and optional `aliases`; they are compared as character 4- and 5-grams inside words, so
compounds and inflections meet their parts (*cykelvägsplaner* / *planen för cykelvägar*,
*bibliotekslagen* / *en lag om bibliotek*, *skolbaserade kuratorer* / *skolor ska få kuratorer
på plats*), weighted by TF-IDF over the catalog's proposals: an n-gram every proposal has
says nothing about which one is meant. Words of the remiss genre (*förslaget*, *utredningen*, …)
and of the inquiry's own title weigh little. Character n-grams need no Swedish stemmer or compound
dictionary and work the same for any inquiry; scikit-learn's `TfidfVectorizer` does the counting.

Section references are read the same way: `avsnitt 5.3`, `(7.3.1)`, `5.3 Tillstyrks`, and chapter
references (`kapitel 6`) that name a group of proposals.
"""
from __future__ import annotations

import re

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from ..records import Catalog, Proposal
from .lexicon_sv import ARTICLES, FUNCTION_WORDS, PREPOSITIONS, REMISS_WORDS, TITLE_FILLERS

_WORD = re.compile(r"[a-zåäöéüæø]+(?:-[a-zåäöéüæø]+)*", re.I)
# An explicit reference: a word that announces a section, then its number.
_EXPLICIT = re.compile(r"\b(?:avsnitt(?:en|et)?|kapitel|kapitlet|kap\.?|punkt(?:en)?|del|§|förslag(?:et|en)?|"
                       r"bedömning(?:en|ar|arna)?)\s*(\d{1,2}(?:\.\d{1,2}){0,4})\b", re.I)
# A bare number with at least one dot, not part of a date, an amount or a law reference.
_DOTTED = re.compile(r"(?<![\d.,:/-])(\d{1,2}(?:\.\d{1,2}){1,4})(?![\d,:/-]|\.\d)")
# A number in parentheses: "Huvudmannaskapet (7.5):".
_PARENS = re.compile(r"\((\d{1,2}(?:\.\d{1,2}){0,4})\)")
_LEADING = re.compile(r"^\s*(\d{1,2}(?:\.\d{1,2}){0,4}(?:\s*(?:,|och|samt|–|-)\s*\d{1,2}(?:\.\d{1,2}){0,4})*)\.?\s")
# Several after one keyword: "kapitel 7 och 8", "kapitlen 5–7", "avsnitten 4.1, 4.2 och 5.3".
_N = r"\d{1,2}(?:\.\d{1,2}){0,4}"
# What makes a phrase a modifier rather than a name ("värdet för | det X Y"), and the words that do not
# make a quoted title distinctive.
_NOT_CONTENT = PREPOSITIONS | TITLE_FILLERS
_LISTED = re.compile(r"\b(?:avsnitt(?:en|et)?|kapitl(?:en|et)|kapitel|kap\.?|punkt(?:erna|en)?)\s*(" + _N +
                     r"(?:\s*(?:,|och|samt|eller|–|-|till)\s*" + _N + r")+)\b", re.I)


# Inflectional endings, longest first: "kuratorerna" and "kurator" meet.
_ENDINGS = ("arnas", "ernas", "ornas", "arna", "erna", "orna", "ande", "ende", "ens", "ets", "ars", "ers", "ors",
            "na", "en", "et", "er", "ar", "or", "ns", "ts", "a", "e", "s", "t")


def stem(word: str) -> str:
    """`word` without its inflectional ending (the stem keeps at least four letters)."""
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            return word[: -len(ending)]
    return word


def content_words(text: str) -> list[str]:
    """The words of `text` that can name a proposal: no function words, no remiss vocabulary."""
    out = []
    for w in _WORD.findall(text.lower()):
        for part in w.split("-"):
            if len(part) > 2 and part not in FUNCTION_WORDS and part not in REMISS_WORDS:
                out.append(part)
    return out


def match_text(text: str) -> str:
    """The words the n-grams are taken from."""
    return " ".join(content_words(text))


def proposal_text(p: Proposal, summary_weight: int = 1) -> str:
    """What a proposal is called: its title (twice: the name respondents quote), aliases, summary."""
    parts = [p.title, p.title, *getattr(p, "aliases", ())] + [p.summary] * summary_weight
    return " ".join(match_text(x) for x in parts)


class CatalogMatcher:
    """Scores texts against every proposal of one catalog (fitted once per catalog)."""

    def __init__(self, ngram_range=(4, 5), title_weight: float = 0.3):
        self.ngram_range = ngram_range
        self.title_weight = title_weight  # weight of n-grams from the inquiry's own title

    def fit(self, catalog: Catalog) -> "CatalogMatcher":
        self.catalog_ = catalog
        self.ids_ = catalog.ids
        self.vectorizer_ = TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.ngram_range), lowercase=True,
                                           sublinear_tf=True, norm=None, dtype=np.float64)
        matrix = self.vectorizer_.fit_transform([proposal_text(p) for p in catalog.proposals])
        generic = self.vectorizer_.transform([match_text(catalog.title)]).toarray()[0] > 0
        scale = np.where(generic, self.title_weight, 1.0)
        self.scale_ = scale
        m = matrix.toarray() * scale
        self.proposals_ = m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)

        self.sections_ = {p.id: p.section for p in catalog.proposals if p.section}
        self.stems_ = [{stem(w) for w in proposal_text(p).split()} for p in catalog.proposals]
        self.stem_grams_ = [{w[k:k + 6] for w in ws for k in range(len(w) - 5)} for ws in self.stems_]
        self.title_tokens_ = [tuple(stem(w.lower()) for w in _WORD.findall(p.title) if w.lower() not in ARTICLES)
                              for p in catalog.proposals]
        # two short words ("ny roll") are too common to quote a title by
        self.title_chars_ = np.array([sum(len(t) for t in title[:3] if t not in _NOT_CONTENT) for title in self.title_tokens_])
        return self

    def names_title(self, text: str) -> np.ndarray:
        """(n_proposals,) whether `text` quotes the opening words of one proposal's title (two content words or
        more, more than of any other title) and not as a modifier after a preposition: "förslaget om A för B"
        names the title "A för B av …" rather than "Ett A för C"; "värdet för det X Y" does not name the
        title "Ett X Y för …" (tests/test_generalization.py has whole examples)."""
        words = [w.lower() for w in _WORD.findall(text)]
        keep = [k for k, w in enumerate(words) if w not in ARTICLES]
        stems = [stem(words[k]) for k in keep]
        best = np.zeros(len(self.ids_))
        for j, title in enumerate(self.title_tokens_):
            for a in range(len(stems)):
                n = 0
                while n < len(title) and a + n < len(stems) and stems[a + n] == title[n]:
                    n += 1
                content = sum(t not in _NOT_CONTENT for t in title[:n])
                before = words[max(0, keep[a] - 2):keep[a]]
                modifier = bool(before) and before[-1] in PREPOSITIONS and not (
                    len(before) == 2 and before[0].startswith(("förslag", "bedömning", "frågan")))  # "förslaget om X"
                if content > best[j] and not modifier:
                    best[j] = content
        top = best.max(initial=0.0)
        return (best >= 2) & (best == top) & ((best == top).sum() == 1) & (self.title_chars_ >= 12)

    def scores(self, texts: list[str]) -> np.ndarray:
        """(len(texts), n_proposals) cosine of each text's catalog n-grams with each proposal's."""
        if not texts:
            return np.zeros((0, len(self.ids_)))
        x = self.vectorizer_.transform([match_text(t) for t in texts]).toarray() * self.scale_
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return x @ self.proposals_.T

    def share_words(self, texts: list[str]) -> np.ndarray:
        """(len(texts), n_proposals) whether a text and a proposal share a word: the same stem, a short stem
        inside the other word, or six letters in a row ("reseavdraget" / "reseavdrag",
        "skolkuratorer" / "kurator", "lärarutbildningen" / "utbildningsvägen"). N-grams alone also meet in
        endings ("ambitioner" / "stationer" only share "-tioner"): a link by words needs a shared word."""
        out = np.zeros((len(texts), len(self.ids_)), bool)
        for i, t in enumerate(texts):
            mine = {stem(w) for w in content_words(t)}
            grams = {w[k:k + 6] for w in mine for k in range(len(w) - 5)}
            for j, (theirs, their_grams) in enumerate(zip(self.stems_, self.stem_grams_)):
                out[i, j] = bool(grams & their_grams) or any(
                    a == b or (4 <= len(a) < 6 and a in b) or (4 <= len(b) < 6 and b in a) for a in mine for b in theirs)
        return out

    # -- section references --------------------------------------------------------------------
    def numbers(self, text: str, heading: bool = False) -> list[str]:
        """Section numbers a text refers to; in a heading, an explicit `Avsnitt N` wins over the
        respondent's own leading numbering ("2.1 Avsnitt 6.2 …" refers to 6.2)."""
        explicit = _EXPLICIT.findall(text) + _PARENS.findall(text)
        for m in _LISTED.finditer(text):
            explicit += [n for n in _listed(m.group(1)) if n not in explicit]
        if heading:
            if explicit:  # "Till punkt 8 (avsnitt 8.7)": the section, not the chapter it lies in
                return [n for n in explicit if not any(m.startswith(n + ".") for m in explicit)]
            lead = _LEADING.match(text)
            return _listed(lead.group(1)) if lead else []  # "3.1 och 5.3 …": both
        return explicit + [n for n in _DOTTED.findall(text) if n not in explicit]

    def section_refs(self, text: str, heading: bool = False) -> tuple[set[str], set[str]]:
        """(proposals whose section the text names exactly, proposals of a chapter or section group it
        names, e.g. `kapitel 6` for sections 6.2 and 6.4)."""
        exact, group = set(), set()
        for n in self.numbers(text, heading):
            for pid, sec in self.sections_.items():
                if sec == n:
                    exact.add(pid)
                elif sec.startswith(n + "."):
                    group.add(pid)
        return exact, group - exact


def _listed(text: str) -> list[str]:
    """The numbers of "7 och 8", "5–7" (a range of chapters: 5, 6, 7), "4.1, 4.2 och 5.3"."""
    out: list[str] = []
    parts = re.split(r"\s*(,|och|samt|eller|–|-|till)\s*", text)
    for k in range(0, len(parts), 2):
        n = parts[k]
        sep = parts[k - 1] if k else ""
        if sep in ("–", "-", "till") and out and out[-1].isdigit() and n.isdigit() and int(out[-1]) < int(n) <= int(out[-1]) + 20:
            out += [str(i) for i in range(int(out[-1]) + 1, int(n) + 1)]
        else:
            out.append(n)
    return out
