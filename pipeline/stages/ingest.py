"""Ingest: read a remissvar file and normalise its text without losing the way back.

Real input is text extracted from PDFs: lines broken mid-sentence, words hyphenated at line
ends, page furniture (page numbers, running headers, protocol boilerplate) and double line
spacing. Ingest removes what is not content and undoes line-end hyphenation; it keeps one
output line per surviving input line, because line structure is what the segmenter reads
headings from. `Document.offsets` maps every character of the normalised text to the
original file text.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

from ..errors import InputError
from ..records import Document
from ..registry import register
from .lexicon_sv import LANGUAGE_MARKERS

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".pdf", ".docx")

# Words that follow a hyphen in a Swedish suspended compound ("kultur- och fritidsnämnd"):
# after these the hyphen is real and the line break is only a space.
SUSPENDED_COMPOUND_NEXT = {"och", "eller", "samt", "respektive", "resp", "som", "till", "men", "än", "och/eller"}

PAGE_FURNITURE = [
    re.compile(r"^(sida|page|s\.)\s*\d+\s*(\(|av|of|/)\s*\d+\s*\)?$", re.I),
    re.compile(r"^\d{1,3}\s*\(\s*\d{1,3}\s*\)$"),  # "2 (5)"
    re.compile(r"^\d{1,3}\s*/\s*\d{1,3}$"),  # "2/5"
    re.compile(r"^[-–]?\s*\d{1,3}\s*[-–]?$"),  # a lone page number
    re.compile(r"justerandes\s+sign|utdragsbestyrkande", re.I),  # protocol page boilerplate
    re.compile(r"^[A-ZÅÄÖ]+(\s+[A-ZÅÄÖ]+)*\s+SAMMANTRÄDESPROTOKOLL$"),
    re.compile(r"^sammanträdesdatum$", re.I),
    re.compile(r"^[A-ZÅÄÖ][\wåäö]+\s+\d{4}-\d{2}-\d{2}$"),  # "Socialnämnden 2025-03-05" running header
]
_WS = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u3000\f\v]+")
_HYPHEN_END = re.compile(r"(\w)[-\u00ad]$")


@register("ingest", "reader.v1")
class Reader:
    """The ingest stage as a configured component: read a file, refuse what would give nonsense.

    `max_chars` bounds the text of one file (a runaway extraction or a concatenated dump would
    otherwise dominate a batch); `min_swedish` is the least share of Swedish function words among
    the words: below it the file is not Swedish prose (another language, a table dump, OCR garbage)
    and would only yield confident-looking noise.
    """

    def __init__(self, max_chars: int | None = 2_000_000, min_swedish: float = 0.1):
        self.max_chars = max_chars
        self.min_swedish = min_swedish

    def read(self, path, doc_id: str | None = None) -> Document:
        doc = read_document(path, max_chars=self.max_chars)
        share, words = swedish_share(doc.text)
        if self.min_swedish and words >= 20 and share < self.min_swedish:
            raise InputError(path, f"no Swedish text found ({share:.0%} Swedish function words in {words} words, "
                                   f"needs {self.min_swedish:.0%}: ingest.min_swedish)")
        if doc_id is not None:
            doc.doc_id = doc_id
        return doc


def read_document(path, max_chars: int | None = None) -> Document:
    """Read a .txt, .pdf or .docx file into a normalised Document; user errors raise InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "not a file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(path, f"unsupported file type '{suffix}' (supported: {', '.join(SUPPORTED_SUFFIXES)})")
    data = path.read_bytes()
    if not data.strip():
        raise InputError(path, "empty file")
    warnings: list[str] = []
    if suffix == ".pdf":
        raw, encoding = read_pdf_text(path, data), "pdf"
    elif suffix == ".docx":
        raw, encoding = read_docx_text(path, data), "docx"
    else:
        raw, encoding = decode_text(path, data, warnings)
    if max_chars and len(raw) > max_chars:
        raise InputError(path, f"too large: {len(raw):,} characters of text, the limit is {max_chars:,} "
                               f"(ingest.max_chars)")
    text, offsets = normalise(raw)
    if not text.strip():
        raise InputError(path, "no text left after removing page furniture")
    return Document(doc_id=path.stem, path=str(path), raw=raw, text=text, offsets=offsets, encoding=encoding, warnings=warnings)


def swedish_share(text: str) -> tuple[float, int]:
    """(share of words that are Swedish function words, number of words)."""
    words = _WORD.findall(text.lower())
    if not words:
        return 0.0, 0
    return sum(w in LANGUAGE_MARKERS for w in words) / len(words), len(words)


_WORD = re.compile(r"[a-zåäöéü]+")


def read_docx_text(path: Path, data: bytes) -> str:
    """Paragraphs and table cells of a Word .docx in document order, one per line."""
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise InputError(path, "old Word format (.doc) or encrypted .docx — save it as an unprotected .docx")
    if not data.startswith(b"PK"):
        raise InputError(path, "not a Word .docx file (no zip header)")
    import io

    import docx
    from docx.oxml.ns import qn

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as e:  # noqa: BLE001 - zipfile, KeyError, python-docx's PackageNotFoundError, lxml errors
        raise InputError(path, f"unreadable .docx ({type(e).__name__}: {str(e)[:80]})") from None
    lines: list[str] = []
    for block in document.element.body.iterchildren():
        if block.tag == qn("w:p"):
            lines.append("".join(t.text or "" for t in block.iter(qn("w:t"))))
        elif block.tag == qn("w:tbl"):
            for cell in block.iter(qn("w:tc")):
                for para in cell.iter(qn("w:p")):
                    lines.append("".join(t.text or "" for t in para.iter(qn("w:t"))))
    text = "\n".join(lines)
    if not text.strip():
        raise InputError(path, "no text in this Word file")
    return text


def decode_text(path: Path, data: bytes, warnings: list[str]) -> tuple[str, str]:
    """UTF-8 first; cp1252 then latin-1 with a warning. Binary content is refused."""
    if b"\x00" in data[:8192] or _control_ratio(data[:8192]) > 0.1:
        raise InputError(path, "binary file, not text")
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            raw = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding != "utf-8-sig":
            warnings.append(f"{path}: not UTF-8, decoded as {encoding}")  # the caller logs it
        return raw.replace("\r\n", "\n").replace("\r", "\n"), encoding.replace("-sig", "")
    raise InputError(path, "undecodable text")  # latin-1 decodes anything; kept for clarity


def _control_ratio(data: bytes) -> float:
    if not data:
        return 0.0
    bad = sum(1 for b in data if b < 32 and b not in (9, 10, 12, 13))
    return bad / len(data)


def read_pdf_text(path: Path, data: bytes) -> str:
    """The PDF's text layer, page by page. A PDF without one is a scan and needs OCR first."""
    if not data.lstrip()[:1024].startswith(b"%PDF-") and b"%PDF-" not in data[:1024]:
        raise InputError(path, "not a PDF (no %PDF header)")
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:  # noqa: BLE001 - pypdf raises several types for missing crypto support
                ok = 0
            if not ok:
                raise InputError(path, "encrypted PDF — needs a password")
        pages = [page.extract_text() or "" for page in reader.pages]
    except InputError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
        raise InputError(path, f"unreadable PDF ({type(e).__name__}: {str(e)[:80]})") from None
    text = "\n".join(pages)
    if len(re.sub(r"\s", "", text)) < 20:
        raise InputError(path, "no text layer — scanned? run OCR first")
    return text


def _lines(raw: str):
    """(start offset, line) for each line of raw, without its newline."""
    pos = 0
    for line in raw.split("\n"):
        yield pos, line
        pos += len(line) + 1


def _collapse(line: str, start: int) -> tuple[str, list[int]]:
    """Collapse whitespace runs to one space and strip, keeping each kept char's raw offset."""
    out, offs = [], []
    prev_space = True
    for i, ch in enumerate(line):
        if _WS.fullmatch(ch) or ch == "\r":
            if not prev_space:
                out.append(" ")
                offs.append(start + i)
            prev_space = True
            continue
        out.append(ch)
        offs.append(start + i)
        prev_space = False
    while out and out[-1] == " ":
        out.pop()
        offs.pop()
    return "".join(out), offs


def is_page_furniture(line: str) -> bool:
    return any(p.search(line) for p in PAGE_FURNITURE)


def _repeated(norm: list[str]) -> set[int]:
    """Indices of short lines that repeat an earlier line as page furniture (running headers, PDF outline entries).

    A later line is a repeat when it equals an earlier line, or 2-3 earlier consecutive lines
    joined (a heading that wrapped the first time). It is dropped when it is furniture:

    - part of the block of repeats that ends the document (the PDF outline, extracted after the
      last page), or
    - a running header: it stands alone (its neighbours differ from those of the first
      occurrence) and either recurs at least twice or first stood at the very top (the letterhead).

    Any other repeat is content: a heading listed in a table of contents or a summary and then
    used in the body, or a passage the author repeated (neighbours repeat too, exactly or
    starting or ending with the same words: the passage was edited a little).
    """
    content = [i for i, s in enumerate(norm) if s and not is_page_furniture(s)]
    first_seen: dict[str, tuple[int, int]] = {}  # text -> (position of first line, of last line)
    for pos in range(len(content)):
        for k in (1, 2, 3):
            if pos + k > len(content):
                break
            joined = " ".join(norm[j] for j in content[pos : pos + k])
            first_seen.setdefault(joined, (pos, pos + k - 1))
    repeats: dict[int, tuple[int, int]] = {}  # position -> first occurrence
    for pos, i in enumerate(content):
        s = norm[i]
        words = s.split()
        if not 2 <= len(words) <= 15 or s.endswith(".") or not s[:1].isupper() and not s[:1].isdigit():
            continue
        first = first_seen.get(s)
        if first is not None and first[0] < pos:
            repeats[pos] = first
    out = set()
    pos = len(content) - 1
    while pos in repeats:  # the trailing outline block
        out.add(content[pos])
        pos -= 1
    recurrences: dict[tuple[int, int], int] = {}
    for first in repeats.values():
        recurrences[first] = recurrences.get(first, 0) + 1
    for pos, first in repeats.items():
        if content[pos] in out or not (recurrences[first] >= 2 or first[0] == 0):
            continue
        before = pos > 0 and first[0] > 0 and _alike(norm[content[pos - 1]], norm[content[first[0] - 1]])
        after = pos + 1 < len(content) and first[1] + 1 < len(content) and _alike(norm[content[pos + 1]], norm[content[first[1] + 1]])
        if not (before or after):
            out.add(content[pos])
    return out


def _alike(a: str, b: str, words: int = 4) -> bool:
    """The same line, or two lines that begin or end with the same `words` words."""
    if a == b:
        return True
    wa, wb = a.split(), b.split()
    if min(len(wa), len(wb)) < words:
        return False
    return wa[:words] == wb[:words] or wa[-words:] == wb[-words:]


def normalise(raw: str) -> tuple[str, list[int]]:
    """Normalised text and its offsets into raw.

    One line per kept content line; blank lines are kept (collapsed to empty lines) because the
    segmenter reads paragraph breaks from them. A line-end hyphen merges the next content line
    into this one, across any blank lines between (double-spaced extraction).
    """
    lines = [_collapse(line, start) for start, line in _lines(raw)]
    norm = [t for t, _ in lines]
    drop = _repeated(norm)
    out: list[tuple[str, list[int]]] = []
    for i, (t, offs) in enumerate(lines):
        if i in drop or (t and is_page_furniture(t)):
            continue
        if t:
            last = next((k for k in range(len(out) - 1, -1, -1) if out[k][0]), None)
            join = _hyphen_join(out[last][0], t) if last is not None else None
            if join is not None:
                pt, poffs = out[last]
                cut, sep = join
                out[last] = (pt[:cut] + sep + t, poffs[:cut] + ([poffs[cut - 1]] if sep else []) + offs)
                del out[last + 1 :]
                continue
        out.append((t, offs))
    while out and not out[0][0]:
        out.pop(0)
    while out and not out[-1][0]:
        out.pop()
    text_parts, offsets = [], []
    for n, (t, offs) in enumerate(out):
        if n:
            text_parts.append("\n")
            offsets.append(offsets[-1] + 1 if offsets else 0)
        text_parts.append(t)
        offsets.extend(offs)
    return "".join(text_parts), offsets


def _hyphen_join(prev: str, nxt: str):
    """How to join a line ending in a hyphen with the next: (cut index in prev, separator) or None.

    `instäm-` + `mer` → `instämmer`; `kultur-` + `och fritid` keeps `kultur- och`; `2025-02-` + `13`
    keeps the hyphen of a date.
    """
    m = _HYPHEN_END.search(prev)
    if not m or not nxt:
        return None
    first = nxt.split(" ", 1)[0]
    if first.lower().strip(",.;:") in SUSPENDED_COMPOUND_NEXT:
        return len(prev), " "  # keep "kultur-" and the space before "och"
    if prev[-2].isdigit() and first[:1].isdigit():
        return len(prev), ""  # "2025-02-" + "13."
    if first[:1].islower():
        return len(prev) - 1, ""  # drop the hyphen
    if first[:1].isupper():
        return len(prev), ""  # "MAS-" + "MAR": a real hyphen
    return None
