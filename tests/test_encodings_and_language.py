"""Exact offsets for every encoding, and a language check that tells Swedish from its neighbours.

The output contract says `raw[start:end]` is the evidence passage as it stands in the file, where
`raw` is the file's text decoded as pipeline/stages/ingest.py documents it. The tests decode each file
by that documented rule themselves (not through the ingest code) and check every evidence span.
"""
from __future__ import annotations

import codecs
import json
import re
import shutil
from pathlib import Path

import pytest
from helpers import DOCS_DIR, dehyphenate, offline_env, read_jsonl, run_main, text_pdf_bytes

from pipeline.errors import InputError
from pipeline.stages.ingest import Reader, read_document
from pipeline.stages.language import ceil_percent, floor_percent, not_swedish

ROOT = Path(__file__).resolve().parents[1]
SOURCE = DOCS_DIR / "eksjo-kommun.txt"
NO_EMBED = ("embedder=null", "linker=lexical")


def documented_raw(path: Path, encoding: str) -> str:
    """`raw` of a file, by the rule in pipeline/stages/ingest.py's docstring."""
    data = path.read_bytes()
    if encoding == "pdf":
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
    if encoding == "docx":
        import docx
        from docx.oxml.ns import qn

        def text(p):
            return "".join({qn("w:tab"): "\t", qn("w:br"): "\n"}.get(e.tag, e.text or "")
                           for e in p.iter(qn("w:t"), qn("w:tab"), qn("w:br")))

        return "\n".join(text(p) for p in docx.Document(path).element.body.iter(qn("w:p")))
    if "+" in encoding:  # line by line: UTF-8, else the fallbacks named
        out = []
        for line in data.splitlines(keepends=True):
            for enc in encoding.split("+"):
                try:
                    out.append(line.decode(enc))
                    break
                except UnicodeDecodeError:
                    continue
        return "".join(out)
    return data.decode(encoding)


def build_encoding_corpus(root: Path) -> dict[str, str]:
    """The same response in every encoding and line-end convention; {file name: expected encoding}."""
    root.mkdir()
    text = SOURCE.read_text(encoding="utf-8")
    crlf = text.replace("\n", "\r\n")
    lines = crlf.splitlines(keepends=True)
    half = len(lines) // 2
    files = {
        "lf.txt": (text.encode("utf-8"), "utf-8"),
        "crlf.txt": (crlf.encode("utf-8"), "utf-8"),
        "cr.txt": (text.replace("\n", "\r").encode("utf-8"), "utf-8"),
        "bom.txt": (codecs.BOM_UTF8 + text.encode("utf-8"), "utf-8-sig"),
        "bom-crlf.txt": (codecs.BOM_UTF8 + crlf.encode("utf-8"), "utf-8-sig"),
        "utf16le.txt": (codecs.BOM_UTF16_LE + crlf.encode("utf-16-le"), "utf-16"),
        "utf16be.txt": (codecs.BOM_UTF16_BE + text.encode("utf-16-be"), "utf-16"),
        "utf32.txt": (text.encode("utf-32"), "utf-32"),
        "cp1252.txt": (crlf.encode("cp1252"), "cp1252"),
        "mixed.txt": ("".join(lines[:half]).encode("utf-8") + "".join(lines[half:]).encode("cp1252"), "utf-8+cp1252"),
    }
    for name, (data, _) in files.items():
        (root / name).write_bytes(data)
    paragraphs = [p.replace("\n", " ") for p in text.split("\n\n") if p.strip()]
    (root / "pdf.pdf").write_bytes(text_pdf_bytes(paragraphs))
    import docx

    d = docx.Document()
    for i, p in enumerate(paragraphs):
        para = d.add_paragraph()
        if i == 1:  # a soft line break and a tab inside a paragraph
            head, _, tail = p.partition(". ")
            para.add_run(head + ".")
            para.add_run().add_break()
            para.add_run("\t" + tail)
        else:
            para.add_run(p)
    d.save(root / "docx.docx")
    return {**{n: e for n, (_, e) in files.items()}, "pdf.pdf": "pdf", "docx.docx": "docx"}


@pytest.fixture(scope="module")
def encoded_run(tmp_path_factory, cache_dir, hf_home):
    root = tmp_path_factory.mktemp("encodings")
    expected = build_encoding_corpus(root / "in")
    with offline_env(cache_dir, hf_home):
        assert run_main(["predict", f"input={root / 'in'}", f"output={root / 'out'}", *NO_EMBED,
                         "run.progress=false"]) == 0
    parts = {json.loads(p.read_text(encoding="utf-8"))["doc_id"]: json.loads(p.read_text(encoding="utf-8"))
             for p in (root / "out" / "parts").glob("*.json")}
    return root, expected, parts, read_jsonl(root / "out" / "predictions.jsonl")


def test_every_encoding_is_read_and_named(encoded_run):
    root, expected, parts, _ = encoded_run
    assert read_jsonl(root / "out" / "errors.jsonl") == []
    assert {Path(p["path"]).name: p["encoding"] for p in parts.values()} == expected


@pytest.mark.parametrize("name", ["lf.txt", "crlf.txt", "cr.txt", "bom.txt", "bom-crlf.txt", "utf16le.txt",
                                  "utf16be.txt", "utf32.txt", "cp1252.txt", "mixed.txt", "pdf.pdf", "docx.docx"])
def test_evidence_offsets_index_the_documented_raw_text(encoded_run, name):
    root, expected, _, rows = encoded_run
    raw = documented_raw(root / "in" / name, expected[name])
    evidence = [e for r in rows if r["doc_id"] == Path(name).stem for e in r["evidence"]]
    assert evidence, name
    for e in evidence:
        assert dehyphenate(raw[e["start"]:e["end"]]) == e["text"], (name, e)
    if "crlf" in name or name in ("utf16le.txt", "cp1252.txt"):
        assert any("\r\n" in raw[e["start"]:e["end"]] for e in evidence)  # line ends kept, not normalised away


def test_the_same_text_in_any_encoding_gets_the_same_stances_and_evidence_text(encoded_run):
    _, expected, _, rows = encoded_run
    by_doc: dict[str, list] = {}
    for r in rows:
        by_doc.setdefault(r["doc_id"], []).append((r["proposal_id"], r["stance"], [e["text"] for e in r["evidence"]]))
    texts = [Path(n).stem for n in expected if n.endswith(".txt")]
    assert all(by_doc[d] == by_doc["lf"] for d in texts), [d for d in texts if by_doc[d] != by_doc["lf"]]


def test_lf_utf8_offsets_are_the_files_own(encoded_run):
    _, _, _, rows = encoded_run
    original = {(r["doc_id"], r["proposal_id"]): r for r in read_jsonl_of_source()}
    assert [r for r in rows if r["doc_id"] == "lf"] == [
        {**original[("eksjo-kommun", r["proposal_id"])], "doc_id": "lf"} for r in rows if r["doc_id"] == "lf"]


def read_jsonl_of_source():
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        assert run_main(["predict", f"input={SOURCE}", f"output={d}/out", *NO_EMBED, "run.progress=false"]) == 0
        return read_jsonl(Path(d) / "out" / "predictions.jsonl")


def test_a_mixed_file_is_decoded_line_by_line_not_garbled(encoded_run):
    root, _, parts, _ = encoded_run
    doc = read_document(root / "in" / "mixed.txt")
    assert doc.text == read_document(root / "in" / "lf.txt").text  # no mojibake in either half
    assert "Ã" not in doc.raw and "\ufffd" not in doc.raw
    warning = " ".join(parts["mixed"]["warnings"])
    assert re.search(r"not UTF-8 throughout: \d+ of \d+ lines decoded as cp1252, the rest as UTF-8", warning)


def test_utf16_without_a_bom_or_broken_after_its_bom_is_one_line(tmp_path):
    p = tmp_path / "utf16.txt"
    p.write_bytes("Kommunen tillstyrker förslaget.".encode("utf-16-le"))
    with pytest.raises(InputError, match="needs a byte-order mark"):
        read_document(p)
    p.write_bytes(codecs.BOM_UTF16_LE + "Kommunen tillstyrker.".encode("utf-16-le") + b"\x00\xd8")  # lone surrogate
    with pytest.raises(InputError, match="starts with a utf-16 byte-order mark but is not utf-16"):
        read_document(p)
    p.write_bytes(codecs.BOM_UTF16_LE + " \r\n".encode("utf-16-le"))
    with pytest.raises(InputError, match="empty file"):
        read_document(p)


# -- the language check ------------------------------------------------------------------------------------

NORWEGIAN = """Høringssvar fra Bergen kommune

Bergen kommune viser til høringsbrevet og takker for muligheten til å uttale seg. Kommunen støtter forslaget
om en ny lov om legetjenester i kommunene, men mener at det må settes av tilstrekkelige midler til å
gjennomføre endringene. Det er viktig at kommunene får være med på å utforme ordningen.

Kommunen er ikke enig i forslaget om at alle sykehjem skal ha egen lege. Dette vil bli for dyrt for små
kommuner, og det finnes ikke nok leger i distriktene. Vi mener derfor at forslaget bør utredes nærmere før
det blir vedtatt.

Når det gjelder opplæring av ansatte, støtter kommunen utvalgets vurdering. Det er behov for mer kunnskap
om munnhelse hos eldre, og kommunen vil gjerne bidra i arbeidet. Hvis staten gir midler til dette, kan
kommunen starte allerede neste år.
"""
DANISH = """Høringssvar fra Aarhus Kommune

Aarhus Kommune takker for muligheden for at afgive høringssvar. Kommunen støtter forslaget om en ny lov om
lægedækning i kommunerne, men mener, at der skal afsættes tilstrækkelige midler til at gennemføre
ændringerne. Det er vigtigt, at kommunerne bliver inddraget i udformningen af ordningen.

Kommunen er ikke enig i forslaget om, at alle plejehjem skal have en fast læge. Det vil blive for dyrt for
de mindre kommuner, og der er ikke nok læger i yderområderne. Vi mener derfor, at forslaget bør undersøges
nærmere, før det bliver vedtaget.

Hvad angår uddannelse af medarbejdere, støtter kommunen udvalgets vurdering. Der er behov for mere viden om
mundhygiejne hos ældre, og kommunen vil gerne bidrage til arbejdet. Hvis staten giver midler til dette, kan
kommunen starte allerede næste år.
"""
ENGLISH = ("Response to the inquiry.\n\nThe municipality has read the report and supports the proposal on a new "
           "law. It welcomes clearer rules for everyone who works in health care, and it has no further comments.\n") * 3


@pytest.mark.parametrize("text, language", [(NORWEGIAN, "Norwegian"), (DANISH, "Danish"), (ENGLISH, "English")])
def test_norwegian_danish_and_english_are_refused_naming_the_language(tmp_path, text, language):
    p = tmp_path / "svar.txt"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as e:
        Reader().read(p)
    assert f"reads as {language}, not Swedish" in str(e.value) and "\n" not in str(e.value)


def test_the_old_check_passed_norwegian():
    old = set("""och att det som är för på med av till inte har de den ett en om vi kan ska eller från sig vara detta
    också även som dessa när där så men bör skulle kommer finns vid inom samt mot utan deras vår våra vårt hur vilket
    vilka här efter under mellan genom andra än mycket redan""".split())
    words = re.findall(r"[a-zåäöæø]+", NORWEGIAN.lower())
    assert sum(w in old for w in words) / len(words) > 0.1  # what let Norwegian through before


@pytest.mark.parametrize("quote", [NORWEGIAN, ENGLISH * 2])
def test_a_swedish_response_quoting_norwegian_or_english_passes(tmp_path, quote):
    p = tmp_path / "svar.txt"
    p.write_text(SOURCE.read_text(encoding="utf-8") + "\n\nCiterat ur rapporten:\n\n" + quote, encoding="utf-8")
    assert Reader().read(p).text


def test_no_real_document_is_refused():
    docs = sorted((ROOT / "data").glob("*/docs/*"))
    assert len(docs) >= 17
    for p in docs:
        assert not_swedish(read_document(p).text, Reader().min_swedish) is None, p


def test_the_message_never_shows_the_share_at_the_limit():
    text = SOURCE.read_text(encoding="utf-8")
    from pipeline.stages.language import identify

    share = identify(text).swedish_share
    for limit in (share + 0.00001, share + 0.0004, round(share + 0.0005, 3)):  # rounding would show them equal
        message = not_swedish(text, limit)
        shown, needed = re.findall(r"(\d+\.\d)%", message)[0], re.findall(r"needs (\d+\.\d)%", message)[0]
        assert float(shown) < float(needed), message
    assert floor_percent(0.0996) == "9.9%" and floor_percent(0.1) == "10.0%" and ceil_percent(0.05) == "5.0%"


def test_norwegian_and_danish_files_in_a_batch_get_error_rows(tmp_path, offline):
    inp = tmp_path / "in"
    inp.mkdir()
    shutil.copy(SOURCE, inp)
    (inp / "bergen.txt").write_text(NORWEGIAN, encoding="utf-8")
    (inp / "aarhus.txt").write_text(DANISH, encoding="utf-8")
    out = tmp_path / "out"
    assert run_main(["predict", f"input={inp}", f"output={out}", *NO_EMBED, "run.progress=false"]) == 0
    errors = {Path(e["path"]).name: e["error"] for e in read_jsonl(out / "errors.jsonl")}
    assert errors.keys() == {"bergen.txt", "aarhus.txt"}
    assert "reads as Norwegian" in errors["bergen.txt"] and "reads as Danish" in errors["aarhus.txt"]
    assert {r["doc_id"] for r in read_jsonl(out / "predictions.jsonl")} == {"eksjo-kommun"}
