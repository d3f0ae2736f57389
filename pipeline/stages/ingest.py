"""Ingest: read a remissvar file and normalise its text without losing the way back.

Real input is text extracted from PDFs: lines broken mid-sentence, words hyphenated at line
ends, page furniture (page numbers, running headers, protocol boilerplate) and double line
spacing. Ingest removes what is not content and undoes line-end hyphenation; it keeps one
output line per surviving input line, because line structure is what the segmenter reads
headings from. `Document.offsets` maps every character of the normalised text to `Document.raw`,
the file's text exactly as decoded (the output contract's `raw`):

- .txt: the bytes decoded by `Document.encoding` with line ends kept as they are (CRLF, CR, LF).
  `utf-8`, `cp1252`, `latin-1`: Python's codec of that name; `utf-8-sig`, `utf-16`, `utf-32`: the
  file starts with that byte-order mark, which the codec removes (raw starts after it). A file
  that is not UTF-8 throughout is decoded line by line, each line as UTF-8, else cp1252, else
  latin-1 (`utf-8+cp1252`), with a warning saying how many lines were not UTF-8.
- .pdf: the text layer as pypdf extracts it, pages joined by "\n".
- .docx: the paragraphs and table cells in document order, one per line ("\n"), a tab as "\t"
  and a line break within a paragraph as "\n".
"""
from __future__ import annotations

import codecs
import logging
import re
from pathlib import Path

from ..errors import InputError
from ..records import Document
from ..registry import register
from .language import not_swedish

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".pdf", ".docx")

# Words that follow a hyphen in a Swedish suspended compound ("kultur- och fritidsnämnd"):
# after these the hyphen is real and the line break is only a space.
SUSPENDED_COMPOUND_NEXT = {"och", "eller", "samt", "respektive", "resp", "som", "till", "men", "än", "och/eller"}

PAGE_FURNITURE = [
    re.compile(r"^(sida|page|s\.)\s*\d+\s*(\(|av|of|/)\s*\d+\s*\)?$", re.I),
    # a footer ending in the page count ("Förbundet Org.nr 802000-0000 Sida 1 av 2"), never prose
    re.compile(r"^(?:[^.!?]|\.(?=\S)){0,100}\s(sida|page)\s*\d+\s*(\(|av|of|/)\s*\d+\s*\)?$", re.I),
    re.compile(r"^\d{1,3}\s*\(\s*\d{1,3}\s*\)$"),  # "2 (5)"
    re.compile(r"^\d{1,3}\s*/\s*\d{1,3}$"),  # "2/5"
    re.compile(r"^[-–]?\s*\d{1,3}\s*[-–]?$"),  # a lone page number
    re.compile(r"justerandes\s+sign|utdragsbestyrkande", re.I),  # protocol page boilerplate
    re.compile(r"^[A-ZÅÄÖ]+(\s+[A-ZÅÄÖ]+)*\s+SAMMANTRÄDESPROTOKOLL$"),
    re.compile(r"^sammanträdesdatum$", re.I),
    re.compile(r"^[A-ZÅÄÖ][\wåäö]+\s+\d{4}-\d{2}-\d{2}$"),  # "Styrelsen 2025-03-05" running header
]
_WS = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u3000\f\v]+")
_HYPHEN_END = re.compile(r"(\w)[-\u00ad]$")


@register("ingest", "reader.v1")
class Reader:
    """The ingest stage as a configured component: read a file, refuse what would give nonsense.

    `max_chars` bounds the text of one file (a runaway extraction or a concatenated dump would
    otherwise dominate a batch); `min_swedish` is the least share of Swedish-only function words
    among the words (pipeline/stages/language.py): below it, or where Norwegian, Danish or English
    words outnumber them, the file is not Swedish prose and would only yield confident-looking
    noise. `follow_symlinks`: whether a batch reads a symlink that leads out of its input folder
    (pipeline/core/inputs.py).
    """

    def __init__(self, max_chars: int | None = 2_000_000, min_swedish: float = 0.05, follow_symlinks: bool = False):
        self.max_chars = max_chars
        self.min_swedish = min_swedish
        self.follow_symlinks = follow_symlinks

    def read(self, path, doc_id: str | None = None) -> Document:
        doc = read_document(path, max_chars=self.max_chars)
        problem = not_swedish(doc.text, self.min_swedish)
        if problem:
            raise InputError(path, problem)
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
        if not raw.strip():
            raise InputError(path, "empty file")
    if max_chars and len(raw) > max_chars:
        raise InputError(path, f"too large: {len(raw):,} characters of text, the limit is {max_chars:,} "
                               f"(ingest.max_chars)")
    text, offsets = normalise(raw)
    if not text.strip():
        raise InputError(path, "no text left after removing page furniture")
    return Document(doc_id=path.stem, path=str(path), raw=raw, text=text, offsets=offsets, encoding=encoding, warnings=warnings)


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
    pieces = {qn("w:t"): None, qn("w:tab"): "\t", qn("w:br"): "\n", qn("w:cr"): "\n"}

    def para_text(para) -> str:
        return "".join(e.text or "" if pieces[e.tag] is None else pieces[e.tag] for e in para.iter(*pieces))

    lines: list[str] = []
    for block in document.element.body.iterchildren():
        if block.tag == qn("w:p"):
            lines.append(para_text(block))
        elif block.tag == qn("w:tbl"):
            for cell in block.iter(qn("w:tc")):
                for para in cell.iter(qn("w:p")):
                    lines.append(para_text(para))
    text = "\n".join(lines)
    if not text.strip():
        raise InputError(path, "no text in this Word file")
    return text


# Byte-order marks, longest first (the UTF-32 LE mark begins with the UTF-16 LE one).
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
FALLBACKS = ("cp1252", "latin-1")


def decode_text(path: Path, data: bytes, warnings: list[str]) -> tuple[str, str]:
    """(the file's text as decoded, the encoding's name); line ends are kept as they are.

    A byte-order mark decides (UTF-8, UTF-16, UTF-32; the codec removes the mark); else UTF-8; else
    line by line, each line as UTF-8, else cp1252, else latin-1, with a warning. Binary is refused.
    """
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                raw = data.decode(encoding)
            except UnicodeDecodeError as e:
                raise InputError(path, f"starts with a {encoding} byte-order mark but is not {encoding} "
                                       f"(byte {e.start})") from None
            if _control_ratio(raw[:8192]) > 0.1 or "\x00" in raw[:8192]:
                raise InputError(path, "binary file, not text")
            return raw, encoding
    if b"\x00" in data[:8192] or _control_ratio(data[:8192]) > 0.1:
        raise InputError(path, "binary file, not text (UTF-16 or UTF-32 text needs a byte-order mark)")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    lines, used = [], {}
    for line in data.splitlines(keepends=True):
        for encoding in ("utf-8", *FALLBACKS):
            try:
                lines.append(line.decode(encoding))
            except UnicodeDecodeError:
                continue
            if encoding != "utf-8" or not line.isascii():
                used[encoding] = used.get(encoding, 0) + 1
            break
    names = [e for e in ("utf-8", *FALLBACKS) if e in used]
    if "utf-8" in used:
        other = sum(n for e, n in used.items() if e != "utf-8")
        warnings.append(f"{path}: not UTF-8 throughout: {other} of {len(lines)} lines decoded as "
                        f"{' or '.join(names[1:])}, the rest as UTF-8")  # the caller logs it
    else:
        warnings.append(f"{path}: not UTF-8, decoded as {' and '.join(names)}")
    return "".join(lines), "+".join(names)


def _control_ratio(data) -> float:
    """Share of control characters (bytes or str) other than tab, line feed, form feed, carriage return."""
    if not data:
        return 0.0
    codes = data if isinstance(data, bytes) else map(ord, data)
    return sum(1 for b in codes if b < 32 and b not in (9, 10, 12, 13)) / len(data)


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


_EOL = re.compile(r"\r\n|\r|\n")


def _lines(raw: str):
    """(start offset, line) for each line of raw, without its line end (CRLF, CR or LF)."""
    pos = 0
    for m in _EOL.finditer(raw):
        yield pos, raw[pos : m.start()]
        pos = m.end()
    yield pos, raw[pos:]


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
