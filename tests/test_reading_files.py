"""Ingest: normalisation of extracted text (with offsets back to the file) and clear errors for bad input."""
from __future__ import annotations

import json
import os
import random

import pytest
from helpers import DOCS_DIR, LABELS_PATH, collapse, make_doc, quote_pattern
from helpers import text_pdf_bytes as _text_pdf_bytes

from pipeline.stages.ingest import read_document
from pipeline.errors import InputError



def lines_of(doc) -> list[str]:
    return [line for line in doc.text.split("\n") if line]


def assert_offsets(doc) -> None:
    assert len(doc.offsets) == len(doc.text)
    assert all(a <= b for a, b in zip(doc.offsets, doc.offsets[1:])), "offsets must not go backwards"
    for i, ch in enumerate(doc.text):
        if not ch.isspace():
            assert doc.raw[doc.offsets[i]] == ch, (i, ch, doc.raw[doc.offsets[i]])


# -- seed quirks of PDF-extracted text --------------------------------------------------------------

def test_line_end_hyphenation_is_undone_but_real_hyphens_stay():
    raw = (
        "Socialnämnden instäm-\n"
        "mer i förslaget. Det kan leda till att paral-\n"
        "lella organisationer byggs upp inom hälso- \n"
        "och sjukvård samt i vård- \n"
        "eller omsorgsboenden.\n"
        "Tjänsteskrivelse av medicinskt ansvarig sjuksköterska, 2025-02-\n"
        "13.\n"
        "Samverkan med MAS-\n"
        "MAR är viktig.\n"
    )
    doc = make_doc(raw)
    text = collapse(doc.text)
    assert "Socialnämnden instämmer i förslaget." in text
    assert "parallella organisationer" in text
    assert "inom hälso- och sjukvård samt i vård- eller omsorgsboenden." in text
    assert "2025-02-13." in text
    assert "MAS-MAR är viktig." in text
    assert "instäm-" not in text and "paral-" not in text
    assert_offsets(doc)


def test_hyphenation_is_undone_across_double_spacing():
    doc = make_doc("FSS instäm-\n\nmer i förslaget om paral-\n\n\nlella strukturer.\n")
    assert collapse(doc.text) == "FSS instämmer i förslaget om parallella strukturer."
    assert_offsets(doc)


def test_page_furniture_and_running_header_are_dropped():
    raw = (
        "Exempelby kommun Socialförvaltningen\n"
        "Sida 1 av 3\n"
        "\n"
        "Yttrande över betänkandet Bättre munhälsa i äldreomsorgen\n"
        "Kommunen har tagit del av betänkandet och lämnar följande synpunkter.\n"
        "\n"
        "Exempelby kommun Socialförvaltningen\n"
        "Sida 2 av 3\n"
        "Kommunen tillstyrker förslaget om ett statligt tandvårdsbidrag.\n"
        "2 (5)\n"
        "Justerandes sign      Utdragsbestyrkande\n"
        "Kommunen avstyrker förslaget om sanktioner.\n"
        "3\n"
        "4/5\n"
        "Exempelby kommun Socialförvaltningen\n"
        "Socialnämnden 2025-03-05\n"
        "Kommunen har inga synpunkter på övriga förslag.\n"
    )
    doc = make_doc(raw)
    lines = lines_of(doc)
    assert lines == [
        "Exempelby kommun Socialförvaltningen",  # first occurrence: the letterhead itself
        "Yttrande över betänkandet Bättre munhälsa i äldreomsorgen",
        "Kommunen har tagit del av betänkandet och lämnar följande synpunkter.",
        "Kommunen tillstyrker förslaget om ett statligt tandvårdsbidrag.",
        "Kommunen avstyrker förslaget om sanktioner.",
        "Kommunen har inga synpunkter på övriga förslag.",
    ]
    assert_offsets(doc)


def test_a_footer_that_ends_in_the_page_count_is_dropped_but_a_sentence_before_one_is_kept():
    raw = (
        "Kommunen tillstyrker förslaget om ett statligt tandvårdsbidrag.\n"
        "Tandvårdsföreningen Org.nr 802000-0000 Sida 1 av 2\n"
        "Kommunen avstyrker förslaget om sanktioner. Sida 2 av 2\n"
        "Dnr RS 2030/12 Sida 2 (2)\n"
    )
    assert lines_of(make_doc(raw)) == [
        "Kommunen tillstyrker förslaget om ett statligt tandvårdsbidrag.",
        "Kommunen avstyrker förslaget om sanktioner. Sida 2 av 2",  # prose: not furniture, whatever follows
    ]


def test_letterhead_repeated_once_on_page_two_is_dropped():
    raw = (
        "Region Exempellän Yttrande\n"
        "Regionen har tagit del av betänkandet och lämnar följande synpunkter på förslagen i\n"
        "Region Exempellän Yttrande\n"
        "betänkandet om munhälsa i äldreomsorgen.\n"
    )
    assert collapse(make_doc(raw).text) == (
        "Region Exempellän Yttrande Regionen har tagit del av betänkandet och lämnar följande synpunkter "
        "på förslagen i betänkandet om munhälsa i äldreomsorgen."
    )


def test_headings_listed_in_a_table_of_contents_stay_in_the_body():
    # Regression: the body's headings repeated the contents list and were dropped as running
    # headers, so "Kommunen tillstyrker förslaget." ended up under the wrong heading.
    raw = (
        "Yttrande över betänkandet\n"
        "\n"
        "Innehåll\n"
        "4.1 Läkarmedverkan inom befintlig struktur\n"
        "4.4.3 Inga sanktioner inom läkarmedverkan\n"
        "\n"
        "4.1 Läkarmedverkan inom befintlig struktur\n"
        "Kommunen tillstyrker förslaget.\n"
        "4.4.3 Inga sanktioner inom läkarmedverkan\n"
        "Kommunen avstyrker förslaget.\n"
    )
    lines = lines_of(make_doc(raw))
    assert lines.count("4.1 Läkarmedverkan inom befintlig struktur") == 2
    assert lines[-4:] == [
        "4.1 Läkarmedverkan inom befintlig struktur",
        "Kommunen tillstyrker förslaget.",
        "4.4.3 Inga sanktioner inom läkarmedverkan",
        "Kommunen avstyrker förslaget.",
    ]


def test_protocol_boilerplate_is_dropped():
    raw = (
        "EXEMPELBY KOMMUN SAMMANTRÄDESPROTOKOLL\n"
        "Sammanträdesdatum\n"
        "Socialnämnden beslutar att bifalla förslaget till remissvar.\n"
        "Justerandes sign  Justerandes sign Utdragsbestyrkande\n"
        "Nämnden tillstyrker förslaget.\n"
    )
    assert lines_of(make_doc(raw)) == [
        "Socialnämnden beslutar att bifalla förslaget till remissvar.",
        "Nämnden tillstyrker förslaget.",
    ]


def test_trailing_outline_entries_are_dropped():
    # PDF bookmarks extracted after the last page: tab-indented copies of the headings.
    raw = (
        "Remiss av SOU 2030:1 Bättre munhälsa i\n"
        "äldreomsorgen\n"
        "\n"
        "Om föreningen\n"
        "Föreningen samlar tandhygienister i hela landet.\n"
        "\n"
        "Våra synpunkter i korthet\n"
        "Föreningen tillstyrker förslaget om utbildning i munvård.\n"
        "\n"
        "\tRemiss av SOU 2030:1 Bättre munhälsa i äldreomsorgen\n"
        "\tOm föreningen\n"
        "\tVåra synpunkter i korthet\n"
        "\n"
    )
    doc = make_doc(raw)
    assert lines_of(doc)[-1] == "Föreningen tillstyrker förslaget om utbildning i munvård."
    assert doc.text.count("Om föreningen") == 1
    assert doc.text.count("Våra synpunkter i korthet") == 1
    assert_offsets(doc)


def test_a_repeated_paragraph_is_content():
    para = (
        "Kommunen delar utredningens bedömning att\n"
        "läkarmedverkan bör stärkas inom befintliga\n"
        "strukturer och ser stora fördelar med det.\n"
    )
    raw = "Sammanfattning\n" + para + "\nKapitel 4 Stärkt läkarmedverkan\n" + para
    doc = make_doc(raw)
    assert doc.text.count("Kommunen delar utredningens bedömning att") == 2
    assert doc.text.count("läkarmedverkan bör stärkas inom befintliga") == 2


def test_a_repeated_paragraph_with_a_small_edit_is_content():
    # The summary repeats a later paragraph; the wrapped lines differ slightly after the first line.
    # Regression: the first line stood "alone" (its neighbours were not identical) and was dropped
    # as a running header, losing the start of the sentence.
    raw = (
        "Sammanfattning\n"
        "Region Exempellän anser att regionerna fortsatt bör ha det fullständiga\n"
        "huvudmannaansvaret för läkarinsatser i kommunal hälso- och sjukvårds för att\n"
        "inte få oklara ansvarsgränser.\n"
        "\n"
        "Kapitel 5 En ordning där kommuner kan anställa läkare\n"
        "Region Exempellän anser att regionerna fortsatt bör ha det fullständiga\n"
        "huvudmannaansvaret för läkarinsatser i kommunal hälso- och sjukvård. Region\n"
        "Exempellän ser risker kopplade till oklara ansvarsgränser.\n"
    )
    doc = make_doc(raw)
    assert doc.text.count("Region Exempellän anser att regionerna fortsatt bör ha det fullständiga") == 2
    assert ("Region Exempellän anser att regionerna fortsatt bör ha det fullständiga huvudmannaansvaret för "
            "läkarinsatser i kommunal hälso- och sjukvård. Region") in collapse(doc.text)


def test_tabs_and_space_runs_collapse():
    raw = "Kommunen\t\ttillstyrker   förslaget\u00a0om  tandvårdsbidrag.   \n\t  Nästa\trad.\n"
    doc = make_doc(raw)
    assert doc.text == "Kommunen tillstyrker förslaget om tandvårdsbidrag.\nNästa rad."
    assert_offsets(doc)


def test_double_spacing_is_kept_as_blank_lines_not_lost_text():
    doc = make_doc("Första raden i stycket\n\nandra raden i stycket.\n\n\n\n")
    assert doc.text == "Första raden i stycket\n\nandra raden i stycket."


# -- the real corpus ------------------------------------------------------------------------------

REAL_DOCS = sorted(DOCS_DIR.glob("*.txt"))


@pytest.fixture(scope="module")
def real_docs():
    return {p.stem: read_document(p) for p in REAL_DOCS}


def test_real_documents_offsets_point_back_to_the_file(real_docs):
    assert len(real_docs) == 5
    for doc in real_docs.values():
        assert doc.encoding == "utf-8" and doc.warnings == []
        assert doc.raw == (DOCS_DIR / f"{doc.doc_id}.txt").read_text(encoding="utf-8")
        assert_offsets(doc)


def _gold_quotes():
    rows = [json.loads(line) for line in LABELS_PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(r["doc_id"], r["proposal_id"], q) for r in rows for q in r["evidence"]]


@pytest.mark.parametrize("doc_id,proposal_id,quote", _gold_quotes(), ids=lambda v: str(v)[:40])
def test_every_gold_quote_survives_normalisation(real_docs, doc_id, proposal_id, quote):
    # Normalisation may drop page furniture, never content: each quote the annotators copied from
    # the document must still be in its normalised text.
    text = collapse(real_docs[doc_id].text)
    assert quote_pattern(quote).search(text), f"{doc_id}/{proposal_id}: quote lost: {quote!r}"


def test_real_corpus_quirks(real_docs):
    fss = collapse(real_docs["foreningen-sveriges-socialchefer"].text)
    assert "FSS instämmer i förslaget" in fss and "instäm-" not in fss
    assert "samt att parallella sjukvårdsorganisationer skapas" in fss
    # the PDF outline entries at the end are gone, the headings themselves stay
    assert fss.count("Om FSS") == 1 and fss.count("FSS synpunkter i korthet") == 1
    eksjo = real_docs["eksjo-kommun"].text
    assert "Justerandes sign" not in eksjo and "SAMMANTRÄDESPROTOKOLL" not in eksjo
    assert "2025-02-13." in collapse(eksjo)
    assert "hälso- och sjukvård" in collapse(eksjo)


# -- bad input: one clear InputError naming the file ----------------------------------------------

def expect_input_error(path, *needles) -> InputError:
    with pytest.raises(InputError) as info:
        read_document(path)
    message = str(info.value)
    assert str(path) in message, message
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    return info.value


def test_empty_file(tmp_path):
    p = tmp_path / "tomt.txt"
    p.write_bytes(b"")
    expect_input_error(p, "empty")


def test_whitespace_only_file(tmp_path):
    p = tmp_path / "blankt.txt"
    p.write_bytes(b"  \n\n\t \r\n   \n")
    expect_input_error(p, "empty")


def test_only_page_furniture(tmp_path):
    p = tmp_path / "sidnummer.txt"
    p.write_text("Sida 1 av 2\n\n2 (2)\n", encoding="utf-8")
    expect_input_error(p, "no text")


def test_binary_file(tmp_path):
    rng = random.Random(7)
    data = bytes(rng.randrange(256) for _ in range(4096)) + b"\x00\x00\x00"
    p = tmp_path / "binar.txt"
    p.write_bytes(b"\x00" + data)
    expect_input_error(p, "binary")


def test_missing_file_and_folder(tmp_path):
    expect_input_error(tmp_path / "finns-inte.txt", "not a file")
    (tmp_path / "mapp.txt").mkdir()
    expect_input_error(tmp_path / "mapp.txt", "not a file")


@pytest.mark.parametrize("name", ["svar.doc", "svar.odt", "svar.rtf", "svar"])
def test_unsupported_suffix(tmp_path, name):
    p = tmp_path / name
    p.write_bytes(b"PK\x03\x04 not really a document")
    err = expect_input_error(p, "unsupported file type", ".txt", ".pdf")
    assert err.path == str(p)


def test_pdf_suffix_but_not_a_pdf(tmp_path):
    p = tmp_path / "falsk.pdf"
    p.write_text("Detta är ingen PDF utan vanlig text.\n", encoding="utf-8")
    expect_input_error(p, "not a PDF")


def test_truncated_pdf_is_an_input_error(tmp_path):
    data = _text_pdf_bytes(["Kommunen tillstyrker förslaget om tandvårdsbidrag för äldre."])
    for n in (len(data) // 3, len(data) // 2, len(data) - 40):
        p = tmp_path / f"trasig-{n}.pdf"
        p.write_bytes(data[:n])
        try:
            read_document(p)
        except InputError as e:
            assert str(p) in str(e)
        # a truncated file may still be readable (pypdf repairs xref tables): no other exception


def test_cp1252_text_is_decoded_with_a_warning(tmp_path):
    p = tmp_path / "ansi.txt"
    p.write_bytes("Kommunen tillstyrker förslaget – även åtgärd 5.2.\r\nNämnden är positiv.\r\n".encode("cp1252"))
    doc = read_document(p)
    assert doc.text == "Kommunen tillstyrker förslaget – även åtgärd 5.2.\nNämnden är positiv."
    assert doc.encoding == "cp1252"
    assert len(doc.warnings) == 1 and str(p) in doc.warnings[0] and "cp1252" in doc.warnings[0]
    assert_offsets(doc)


def test_latin1_only_bytes_are_decoded_with_a_warning(tmp_path):
    # 0x81 is undefined in cp1252, so this can only be latin-1.
    p = tmp_path / "latin1.txt"
    p.write_bytes("Regionen stödjer förslaget.".encode("latin-1") + b" \x81\n")
    doc = read_document(p)
    assert doc.text.startswith("Regionen stödjer förslaget.")
    assert doc.encoding == "latin-1" and doc.warnings and "latin-1" in doc.warnings[0]


def test_utf8_with_bom_has_no_warning(tmp_path):
    p = tmp_path / "bom.txt"
    p.write_bytes("\ufeffKommunen avstyrker förslaget.\n".encode("utf-8"))
    doc = read_document(p)
    assert doc.text == "Kommunen avstyrker förslaget." and doc.warnings == [] and doc.encoding == "utf-8-sig"


# -- PDFs built with fpdf2 ----------------------------------------------------------------------------

PDF_LINES = [
    "Yttrande över betänkandet Bättre munhälsa i äldreomsorgen",
    "Kommunen tillstyrker förslaget om ett statligt tandvårdsbidrag.",
    "Kommunen avstyrker förslaget i avsnitt 4.1 om ett nationellt register.",
]


def test_text_pdf_reads_back(tmp_path):
    p = tmp_path / "yttrande.pdf"
    p.write_bytes(_text_pdf_bytes(PDF_LINES))
    doc = read_document(p)
    assert doc.encoding == "pdf" and doc.doc_id == "yttrande"
    assert lines_of(doc) == PDF_LINES
    assert_offsets(doc)


def test_core_font_pdf_reads_back(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, "Regionen stödjer förslaget om utbildning i munvård för omsorgspersonal.")
    p = tmp_path / "kärnfont.pdf"
    p.write_bytes(bytes(pdf.output()))
    assert collapse(read_document(p).text) == "Regionen stödjer förslaget om utbildning i munvård för omsorgspersonal."


def test_pdf_without_text_layer(tmp_path):
    from fpdf import FPDF
    from PIL import Image

    img = tmp_path / "skanning.png"
    Image.new("RGB", (120, 80), (200, 200, 200)).save(img)
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60, style="F")
    pdf.image(str(img), x=30, y=100, w=60)
    p = tmp_path / "skannad.pdf"
    p.write_bytes(bytes(pdf.output()))
    expect_input_error(p, "no text layer — scanned? run OCR first")


def test_encrypted_pdf(tmp_path):
    from pypdf import PdfWriter

    plain = tmp_path / "oppen.pdf"
    plain.write_bytes(_text_pdf_bytes(PDF_LINES))
    writer = PdfWriter(clone_from=str(plain))
    writer.encrypt(user_password="hemligt", owner_password="agare")
    p = tmp_path / "krypterad.pdf"
    with open(p, "wb") as f:
        writer.write(f)
    expect_input_error(p, "encrypted")


def test_pdf_with_only_an_owner_password_reads(tmp_path):
    # Permissions-only encryption (empty user password) is common on official PDFs and readable.
    from pypdf import PdfWriter

    plain = tmp_path / "oppen.pdf"
    plain.write_bytes(_text_pdf_bytes(PDF_LINES))
    writer = PdfWriter(clone_from=str(plain))
    writer.encrypt(user_password="", owner_password="agare")
    p = tmp_path / "behorighet.pdf"
    with open(p, "wb") as f:
        writer.write(f)
    assert lines_of(read_document(p)) == PDF_LINES


def test_random_bytes_after_a_pdf_header_are_an_input_error(tmp_path):
    rng = random.Random(3)
    for i in range(5):
        p = tmp_path / f"skrap-{i}.pdf"
        p.write_bytes(b"%PDF-1.7\n" + bytes(rng.randrange(256) for _ in range(2000)))
        expect_input_error(p)


def test_no_stray_files_written(tmp_path):
    p = tmp_path / "svar.txt"
    p.write_text("Kommunen tillstyrker.\n", encoding="utf-8")
    read_document(p)
    assert sorted(os.listdir(tmp_path)) == ["svar.txt"]
