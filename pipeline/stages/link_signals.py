"""The evidence a linker weighs for "sentence i is about proposal j", one row of numbers per pair.

Own text: catalog-word overlap (pipeline/stages/catalog_match.py), the same for the phrase that
names the object of *förslaget om …*, explicit section references, a chapter reference naming a
group, embedding similarity. Context: the heading that names the proposal (by number or words),
the label of a bullet (`Kostnaderna: …`, `Utvärderingen (5.3): …`), and the previous
sentence of the paragraph when this one only says *förslaget*, *detta*, *därför*. And what kind of
sentence it is: a position, about the proposal rather than the action, description of the inquiry.

The respondent's own name (*Länsstyrelsen*, *Förbundet*: the word that opens many of its
sentences) is left out of the matching: it says who speaks, not what about.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..records import Sentence
from .catalog_match import CatalogMatcher, content_words
from .cues import mentions
from .lexicon_sv import SELF_NAMING_VERBS, SPEAKER_VERBS, SUBJECT_PRONOUNS, VIEW_HEADINGS

FEATURES = (
    "lex", "lex_z", "lex_top", "shares_word", "clause_lex", "clause_z", "object_lex", "object_z", "section", "group", "emb_z",
    "emb_top",
    "heading", "heading_section", "heading_lex", "label", "previous", "anaphoric", "position", "about", "normative",
    "description", "general", "shared", "strong", "voiced", "bare_verdict", "named_before", "title_head",
)
# "förslaget om X": X names the proposal — unless "om" opens a condition ("förslaget om rådet inordnas"; but
# "förslaget om X bör strykas" is the proposal: a modal before the passive).
# A topic phrase ("När det gäller X, …", "Beträffande X …") names it for the whole sentence too.
_OBJECT = re.compile(r"(?:\b(?:förslag(?:et|en)?|möjligheten|kravet|lagkravet)\s+(?:om|att|till|gällande|avseende|rörande|"
                     r"kring|med|för|på)|\bbedömning(?:en|arna)?\s+(?:om|gällande|avseende|rörande|kring)|"
                     r"\b(?:när\s+det\s+gäller|vad\s+(?:gäller|avser)|beträffande|angående|i\s+fråga\s+om|"
                     r"när\s+det\s+kommer\s+till))\s+"
                     r"(?!(?:(?!(?:bör|ska|skall|måste|kan)\s)\w+\s+){0,3}\w{2,}(?:as|förs|ges|tas|ds)\b)(.{3,160}?)"
                     r"(?=[,;.]|\s+men\s|\s+(?:kommer|skulle|riskerar|kan\s+komma|ser|anser|delar|tillstyrker|avstyrker|"
                     r"välkomnar|instämmer|stöder|stödjer)\s|\s+och\s+(?:\w+\s+)?(?:avstyrk|tillstyrk|instämm|stöd|ställer\s|anser\s|vill\s|menar\s|"
                     r"kräver\s|efterfrågar\s|förordar\s|välkomnar\s|motsätter\s)|$)",
                     re.I)
_ANAPHOR = re.compile(r"\b(?:förslag(?:et|en)|bedömning(?:en|arna)|detta|denna|dessa|sådan(?:t|a)?|därför|dock|också|även)\b(?!\s+"
                      r"(?:om|att|till|gällande|avseende|rörande|kring)\b)", re.I)
# A verdict on "förslaget" itself, no object after it ("Nämnden tillstyrker förslaget under förutsättning att …"):
# the proposal its context names, whatever other proposals' words its conditions use.
_BARE_VERDICT = re.compile(r"\b(?:tillstyrk\w*|avstyrk\w*|stöd(?:er|jer)|ställer\s+sig\s+(?:\w+\s+)?bakom|välkomnar|"
                           r"instämmer\s+i|delar|godtar|accepterar)\s+(?:\w+\s+){0,2}?(?:förslaget|bedömningen)\b"
                           r"(?!\s+(?:om|att|till|gällande|avseende|rörande|kring|i\s+avsnitt|i\s+kapitel)\b)", re.I)
_DEFINITE = ("erna", "arna", "orna", "na", "en", "et", "n", "t")  # definite endings, longest first
STRONG_LEX = 0.35  # own words this close name a proposal as surely as its number does
_LABEL = re.compile(r"^(.{2,90}?)(?:\s*\(\d{1,2}(?:\.\d{1,2}){0,4}\))?\s*[:–—]\s+\S")


@dataclass
class DocSignals:
    """Per (sentence, proposal) the numbers of FEATURES; `why` explains the context links."""

    x: np.ndarray  # (n_sentences, n_proposals, len(FEATURES))
    heading_text: list[str | None] = field(default_factory=list)  # the heading that names proposals, per sentence
    label_text: list[str | None] = field(default_factory=list)
    objects: list[np.ndarray] = field(default_factory=list)  # per sentence: (n_phrases, n_proposals) scores

    def feature(self, name: str) -> np.ndarray:
        return self.x[:, :, FEATURES.index(name)]


def _z(m: np.ndarray) -> np.ndarray:
    if m.size == 0:
        return m
    return (m - m.mean(axis=1, keepdims=True)) / (m.std(axis=1, keepdims=True) + 1e-6)


def speaker_words(sentences: list[Sentence]) -> set[str]:
    """How the respondent names itself: words that open many of the document's sentences, and a
    capitalised word that opens one right before a verb only a respondent takes ("Kommunen anser …"),
    so that "I övrigt tillstyrker nämnden …" matches no title by the name of who speaks."""
    firsts = Counter()
    named = set()
    body = [s for s in sentences if not s.is_heading]
    for s in body:
        words = content_words(s.text)
        if words and s.text.lower().lstrip().startswith(words[0][:3]):
            firsts[words[0]] += 1
        tokens = s.text.split()
        if len(tokens) > 2 and tokens[0][:1].isupper() and tokens[1].lower() in SELF_NAMING_VERBS and words \
                and tokens[0].lower() == words[0]:
            named.add(words[0])
    return {w for w, n in firsts.items() if n >= 3 and n >= 0.1 * len(body)} | named


def _strip(text: str, speaker: set[str]) -> str:
    """`text` without the words the respondent names itself with: its recurring name, and the subject
    that opens a sentence before a verb of position ("Styrelsen för X anser att …")."""
    words = text.split()
    for k, w in enumerate(words[:8]):
        if w.lower().strip(",.") in SPEAKER_VERBS:
            if k + 1 < len(words) and words[k + 1].lower().strip(",.") in SUBJECT_PRONOUNS:
                break  # "Förlustgränserna har vi inget att invända mot": the object comes first, the speaker after
            start = k  # the capitalised name right before the verb ("… Styrelsen för X anser")
            while start > 0 and k - start < 4 and words[start - 1][:1].isupper():
                start -= 1
            if start < k:
                words = words[:start] + words[k:]
            break
    if not speaker:
        return " ".join(words)
    return " ".join(w for w in words if not (cw := content_words(w)) or cw[0] not in speaker)


def compute(sentences: list[Sentence], matcher: CatalogMatcher, cues, sentence_vectors=None,
            proposal_vectors=None, min_lex: float = 0.15, min_z: float = 1.5) -> DocSignals:
    """The FEATURES of every (sentence, proposal) pair of one document; `cues[i]` are sentence i's cues."""
    n, m = len(sentences), len(matcher.ids_)
    x = np.zeros((n, m, len(FEATURES)))
    col = {f: k for k, f in enumerate(FEATURES)}
    index = {pid: j for j, pid in enumerate(matcher.ids_)}
    speaker = speaker_words(sentences)
    texts = [_strip(s.text, speaker) for s in sentences]
    shared = matcher.share_words(texts)
    lex = np.where(shared, matcher.scores(texts), 0.0)  # n-grams count where a word is shared
    lex_z = _z(lex)
    x[:, :, col["shares_word"]] = shared
    x[:, :, col["lex"]] = lex
    x[:, :, col["lex_z"]] = lex_z
    for i, s in enumerate(sentences):
        x[i, :, col["title_head"]] = matcher.names_title(s.text)
    top = lex.argmax(axis=1) if m else np.zeros(n, int)
    for i in range(n):
        if lex[i, top[i]] >= min_lex:
            x[i, top[i], col["lex_top"]] = 1.0
    for i, s in enumerate(sentences):  # a sentence about several proposals names each in its own clause
        spans = mentions(s.text)
        if len(spans) > 1:
            sc = matcher.scores([_strip(s.text[a:b], speaker) for a, b in spans])
            x[i, :, col["clause_lex"]] = sc.max(axis=0)
            x[i, :, col["clause_z"]] = _z(sc).max(axis=0)
    objects = [[o.group(1) for o in _OBJECT.finditer(s.text)] for s in sentences]
    obj_text = [" | ".join(o) for o in objects]
    obj = np.zeros((n, m))
    phrase_rows = [np.zeros((0, m)) for _ in range(n)]
    flat = [(i, t) for i, ts in enumerate(objects) for t in ts]
    if flat:  # each object phrase scored apart: "förslaget om X men avstyrker förslaget om Y" names X and Y
        sc = matcher.scores([t for _, t in flat])
        for (i, _), row in zip(flat, sc):
            obj[i] = np.maximum(obj[i], row)
            phrase_rows[i] = np.vstack([phrase_rows[i], row[None]])
    x[:, :, col["object_lex"]] = obj
    x[:, :, col["object_z"]] = np.where(obj.max(axis=1, keepdims=True) > 0, _z(obj), 0.0)
    if sentence_vectors is not None and proposal_vectors is not None and n:
        cos = np.asarray(sentence_vectors) @ np.asarray(proposal_vectors).T
        ez = _z(cos)
        x[:, :, col["emb_z"]] = ez
        x[np.arange(n), cos.argmax(axis=1), col["emb_top"]] = 1.0
    heading_text, label_text = [None] * n, [None] * n
    heading_cache: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray, np.ndarray, str | None]] = {}
    label_links: dict[int, tuple[np.ndarray, str]] = {}
    prev_direct = np.zeros(m)
    prev_block, prev_text = None, ""
    for i, (s, c) in enumerate(zip(sentences, cues)):
        exact, group = matcher.section_refs(s.text, heading=s.is_heading)
        for pid in exact:
            x[i, index[pid], col["section"]] = 1.0
        for pid in group:
            x[i, index[pid], col["group"]] = 1.0
        x[i, :, col["shared"]] = 1.0 / max(1, int(((lex[i] >= min_lex) & (lex_z[i] >= 1.0)).sum()) + len(exact))
        if s.is_heading:
            prev_direct, prev_block = np.zeros(m), None
            continue
        named, by_number, words, htext = _heading(s.headings, matcher, heading_cache, min_lex, min_z)
        x[i, :, col["heading"]] = named
        x[i, :, col["heading_section"]] = by_number
        x[i, :, col["heading_lex"]] = words
        heading_text[i] = htext
        if s.bullet:
            if s.block not in label_links:
                lab = _LABEL.match(s.text)
                if lab:
                    sc = matcher.scores([lab.group(1)])[0]
                    lz = _z(sc[None])[0]
                    ex, _ = matcher.section_refs(s.text[: lab.end()])
                    hit = ((sc >= min_lex) & (lz >= min_z)).astype(float)
                    for pid in ex:
                        hit[index[pid]] = 1.0
                    label_links[s.block] = (hit, lab.group(1))
            if s.block in label_links:
                x[i, :, col["label"]], label_text[i] = label_links[s.block]
        anaphoric = bool(_ANAPHOR.search(s.text) or _refers_back(s.text, prev_text, speaker)) and not obj_text[i]
        x[i, :, col["anaphoric"]] = float(anaphoric)
        if s.block == prev_block:
            x[i, :, col["named_before"]] = prev_direct  # what the paragraph was about just before
            if anaphoric:
                x[i, :, col["previous"]] = prev_direct
        # what the next sentence's "förslaget" can refer back to: what this one names surely
        direct = ((lex[i] >= STRONG_LEX) & (lex_z[i] >= min_z)) | (x[i, :, col["section"]] > 0) | (
            (obj[i] >= 0.25) & (x[i, :, col["object_z"]] >= 1.0)) | (x[i, :, col["label"]] > 0)
        if direct.any():
            prev_direct = direct.astype(float)
        prev_block, prev_text = s.block, s.text
        x[i, :, col["position"]] = float(c.has_position)
        x[i, :, col["about"]] = float(c.about_proposal)
        x[i, :, col["normative"]] = float(c.normative)
        x[i, :, col["description"]] = float(c.description)
        x[i, :, col["general"]] = float(c.general)
        x[i, :, col["strong"]] = float(c.polarity()[1] >= 2)
        x[i, :, col["voiced"]] = float(c.voiced)
        x[i, :, col["bare_verdict"]] = float(bool(_BARE_VERDICT.search(s.text)))
    return DocSignals(x, heading_text, label_text, phrase_rows)


def _refers_back(text: str, previous: str, speaker: set[str]) -> bool:
    """The sentence opens with the definite form of a noun of the previous one ("… krav på X. Kraven går
    i linje med …"), not with the respondent's own name."""
    words = text.split()
    if len(words) < 3 or words[1].lower() in SELF_NAMING_VERBS:
        return False
    first = words[0].lower().strip(",.:;")
    if first in speaker or not first.isalpha():
        return False
    for ending in _DEFINITE:
        stem = first[: -len(ending)]
        if first.endswith(ending) and len(stem) >= 4:
            stems = (stem, stem[:-1] + "e" + stem[-1])  # "numret" of "nummer", "exemplet" of "exempel"
            return any(w.startswith(st) or w.endswith(st) for w in re.findall(r"\w+", previous.lower()) for st in stems)
    return False


def _heading(headings, matcher: CatalogMatcher, cache, min_lex: float, min_z: float):
    """(named, named by number, word score, heading text) of the deepest heading that names a proposal."""
    key = tuple(headings)
    if key not in cache:
        m = len(matcher.ids_)
        found = (np.zeros(m), np.zeros(m), np.zeros(m), None)
        for h in reversed(headings):
            if VIEW_HEADINGS.match(h.strip()):
                continue  # "Kommunens synpunkter": the respondent's view of the heading above, whose words are its name
            exact, _ = matcher.section_refs(h, heading=True)
            sc = matcher.scores([h])[0]
            z = _z(sc[None])[0]
            # a heading names few proposals and is short: its best match counts from a lower z
            words = ((sc >= min_lex) & (z >= 1.0) & (sc >= 0.8 * sc.max())).astype(float)
            number = np.array([1.0 if pid in exact else 0.0 for pid in matcher.ids_])
            named = np.maximum(words, number)
            if named.any():
                found = (named, number, sc * words, h)
                break
        cache[key] = found
    return cache[key]
