"""Segmenter: Swedish sentence splitting, heading paths from numbered and short headings, bullets."""
from __future__ import annotations

import pytest
from helpers import DOCS_DIR, dehyphenate, make_doc

from pipeline.stages.ingest import read_document
from pipeline.stages.segment import Segmenter, split_sentences


def segment(raw: str):
    return Segmenter().segment(make_doc(raw))


def body(sentences):
    return [s for s in sentences if not s.is_heading]


def texts(sentences):
    return [s.text for s in sentences]


def by_text(sentences, start: str):
    found = [s for s in sentences if s.text.startswith(start)]
    assert len(found) == 1, (start, texts(sentences))
    return found[0]


# -- sentence splitting -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "paragraph,expected",
    [
        ("Kommunen har bl.a. Socialstyrelsen som stöd. Vi tillstyrker förslaget.", 2),
        ("Det gäller t.ex. Region Exempellän och kommunerna. Vi tillstyrker förslaget.", 2),
        ("Ansvaret ligger hos MAS, dvs. Medicinskt ansvarig sjuksköterska. Vi tillstyrker förslaget.", 2),
        ("Läkare, sjuksköterskor m.m. ska finnas tillgängliga. Vi tillstyrker förslaget.", 2),
        ("Kommunen har bl a synpunkter på avtalen. Vi tillstyrker förslaget.", 2),
        ("Remissen gäller betänkandet SOU 2024:72 om läkarmedverkan. Vi tillstyrker förslaget.", 2),
        ("Ert diarienummer är S2024/01966. Kommunen tillstyrker förslaget.", 2),
        ("Socialnämnden § 25 beslutade att anta yttrandet. Kommunen tillstyrker förslaget.", 2),
        ("Det följer av hälso- och sjukvårdsförordningen (2017:80) 4 kap. 6 § att MAS ansvarar. Vi tillstyrker.", 2),
        ("Se betänkandet (SOU 2024:72). Vi tillstyrker.", 2),
        ("Beslutet fattades enligt § 25. Kommunen tillstyrker förslaget.", 2),
        ("Vi tillstyrker förslaget! Men hur ska det finansieras? Det är oklart.", 3),
        ("Det gäller avtal, ansvar, uppföljning osv. Kommunen tillstyrker ändå.", 2),
        ("Det behövs läkare, sjuksköterskor m.m. Kommunen tillstyrker förslaget.", 2),
        ("Se prop. 2016/17:1 s. 25 f. Kommunen tillstyrker förslaget.", 2),
        ("Kerstin K. Carlsson, MAS, har skrivit yttrandet. Kommunen tillstyrker.", 2),
        # a section number ends a sentence like any number
        ("Vi hänvisar till avsnitt 4.1. Kommunen tillstyrker förslaget.", 2),
        ("Se kapitel 5. Kommunen avstyrker förslaget.", 2),
    ],
)
def test_abbreviations_and_references_do_not_end_sentences(paragraph, expected):
    sentences = body(segment(paragraph + "\n"))
    assert len(sentences) == expected, texts(sentences)
    assert " ".join(texts(sentences)) == paragraph


def test_split_sentences_spans_cover_the_paragraph():
    text = "Kommunen instämmer, bl.a. i bedömningen. Regionen (dvs. RS) tillstyrker. Ja."
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == [
        "Kommunen instämmer, bl.a. i bedömningen.",
        "Regionen (dvs. RS) tillstyrker.",
        "Ja.",
    ]


# -- headings -------------------------------------------------------------------------------------------

SECTIONED = """Yttrande över betänkandet

4 Stärkt läkarmedverkan
4.1 Läkarmedverkan inom befintlig struktur
Kommunen tillstyrker förslaget om befintlig struktur.
4.1.1 Genomför redan lämnade förslag om lagkrav på tillgång till medicinsk
bedömning dygnet runt
Kommunen instämmer i förslaget.
4.2.3 Avtalen behöver stärkas genom ett bemyndigande
Kommunen avstyrker förslaget.
Kapitel 5 En ordning där kommuner kan anställa läkare
Kommunen ser risker med förslaget.
Avsnitt 4.4.3
Kommunen tar inte ställning.
"""


def test_numbered_headings_make_the_heading_path():
    sents = segment(SECTIONED)
    headings = [s.text for s in sents if s.is_heading]
    assert headings == [
        "Yttrande över betänkandet",
        "4 Stärkt läkarmedverkan",
        "4.1 Läkarmedverkan inom befintlig struktur",
        "4.1.1 Genomför redan lämnade förslag om lagkrav på tillgång till medicinsk bedömning dygnet runt",
        "4.2.3 Avtalen behöver stärkas genom ett bemyndigande",
        "Kapitel 5 En ordning där kommuner kan anställa läkare",
        "Avsnitt 4.4.3",
    ]
    s = by_text(sents, "Kommunen tillstyrker")
    assert s.headings == ("4 Stärkt läkarmedverkan", "4.1 Läkarmedverkan inom befintlig struktur")
    assert s.sections == ("4", "4.1")
    s = by_text(sents, "Kommunen instämmer")
    assert s.sections == ("4", "4.1", "4.1.1")
    # the heading that wrapped onto a short lower-case line is one heading, and carried whole
    assert s.headings[-1].endswith("medicinsk bedömning dygnet runt")


def test_sibling_sections_replace_each_other():
    sents = segment(SECTIONED)
    s = by_text(sents, "Kommunen avstyrker")
    # 4.2.3 follows 4.1.1: it is under 4, not under 4.1
    assert s.sections == ("4", "4.2.3")
    assert s.headings == ("4 Stärkt läkarmedverkan", "4.2.3 Avtalen behöver stärkas genom ett bemyndigande")
    s = by_text(sents, "Kommunen ser risker")
    assert s.sections == ("5",) and s.headings == ("Kapitel 5 En ordning där kommuner kan anställa läkare",)
    s = by_text(sents, "Kommunen tar inte")
    assert s.sections == ("4.4.3",) and s.headings == ("Avsnitt 4.4.3",)


def test_numbered_heading_with_period_and_deeper_child():
    sents = segment("5. En ordning där kommuner kan anställa läkare\nAvsnitt 5.4\nKommunen tillstyrker.\n"
                    "7. Nya karriär- och utbildningsmöjligheter\nKommunen stödjer förslaget.\n")
    assert by_text(sents, "Kommunen tillstyrker").sections == ("5", "5.4")
    assert by_text(sents, "Kommunen stödjer").sections == ("7",)


def test_short_unnumbered_heading():
    raw = (
        "Kommunen har tagit del av betänkandet och lämnar här sina synpunkter på de förslag som rör\n"
        "den kommunala hälso- och sjukvården.\n"
        "\n"
        "Sanktioner inom läkarmedverkan\n"
        "Kommunen delar bedömningen att sanktioner inte bör införas eftersom de riskerar att försämra\n"
        "samverkan mellan region och kommun.\n"
    )
    sents = segment(raw)
    h = by_text(sents, "Sanktioner inom")
    assert h.is_heading and h.text == "Sanktioner inom läkarmedverkan"
    s = by_text(sents, "Kommunen delar")
    assert s.headings == ("Sanktioner inom läkarmedverkan",) and s.sections == ()


def test_wrapped_body_lines_are_not_headings():
    raw = (
        "Kommunen har synpunkter på förslaget om läkarmedverkan och anser att det ska genomföras så snart\n"
        "Socialstyrelsen har tagit fram de föreskrifter som krävs för att avtalen ska kunna följas upp i hela\n"
        "Sverige. Kommunen vill också framhålla att samverkan mellan region och kommun fungerar väl i\n"
        "Jönköpings län och att erfarenheterna därifrån bör tas tillvara.\n"
        "Region Exempellän delar bedömningen att samverkan behöver stärkas i hela landet och att de\n"
        "Regionala Samverkansorganen bör få ett tydligare uppdrag att följa upp avtalen med kommunerna.\n"
    )
    sents = segment(raw)
    assert not any(s.is_heading for s in sents), texts(sents)
    assert len(sents) == 3
    assert sents[2].text.startswith("Region Exempellän delar") and sents[2].text.endswith("med kommunerna.")


def test_a_section_number_moved_to_the_line_start_by_wrapping_is_no_heading():
    raw = (
        "Styrelsen har inga invändningar mot förslaget om tillsyn som utredningen lämnar i avsnitt\n"
        "6.4. Styrelsen vill ändå understryka att den fortsatta beredningen behöver visa hur\n"
        "tillsynen ska finansieras.\n"
        "\n"
        "7.1 Uppföljning av tillsynen\n"
        "Styrelsen tillstyrker förslaget.\n"
    )
    sents = segment(raw)
    assert [s.text for s in sents if s.is_heading] == ["7.1 Uppföljning av tillsynen"], texts(sents)
    assert by_text(sents, "Styrelsen vill ändå").text.endswith("hur tillsynen ska finansieras.")
    assert by_text(sents, "Styrelsen tillstyrker").sections == ("7.1",)


def test_rows_of_a_flattened_table_stay_rows():
    raw = (
        "Avsnitt Förslag Remissinstansens ställningstagande\n"
        "3.2 Krav på skriftlig plan för varje verksamhet oavsett storlek Tillstyrks med förbehåll\n"
        "3.4 Ett nytt register över anmälda verksamheter hos tillsynsmyndigheten Avstyrks\n"
    )
    rows = [s.text for s in segment(raw)]
    assert any(t.startswith("3.2 Krav") and t.endswith("förbehåll") for t in rows), rows
    assert any(t.startswith("3.4 Ett nytt register") for t in rows), rows


def test_bullets_are_their_own_blocks():
    raw = (
        "Kommunen vill lyfta följande.\n"
        "• Läkare ska finnas tillgängliga dygnet runt.\n"
        "• Avtalen ska följas upp årligen och resultaten redovisas\n"
        "för nämnden.\n"
        "- Sjuksköterskor ska ha stöd av läkare.\n"
        "\n"
        "Kommunen tillstyrker i övrigt förslagen.\n"
    )
    sents = segment(raw)
    bullets = [s for s in sents if s.bullet]
    assert texts(bullets) == [
        "Läkare ska finnas tillgängliga dygnet runt.",
        "Avtalen ska följas upp årligen och resultaten redovisas för nämnden.",
        "Sjuksköterskor ska ha stöd av läkare.",
    ]
    assert len({s.block for s in bullets}) == 3
    assert not by_text(sents, "Kommunen vill").bullet
    last = by_text(sents, "Kommunen tillstyrker")
    assert not last.bullet and last.block not in {s.block for s in bullets}


def test_bullet_lead_without_sentence_end_heads_the_following_prose():
    raw = (
        "• Stärka kommunernas möjlighet att säkra tillgång till läkare\n"
        "\n"
        "Kommunen tillstyrker förslagen i denna del.\n"
    )
    sents = segment(raw)
    assert sents[0].is_heading and sents[0].text == "Stärka kommunernas möjlighet att säkra tillgång till läkare"
    assert sents[1].headings == ("Stärka kommunernas möjlighet att säkra tillgång till läkare",)


DOUBLE_SPACING_SAMPLE = """Yttrande över remiss

Synpunkter på förslagen
Kommunen anser att samverkan med
Region Exempellän fungerar väl i dag och att
Socialstyrelsen bör ta fram stöd för avtalen. Kommunen
har bl.a. synpunkter på finansieringen.

4.1.1 Genomför redan lämnade förslag om lagkrav på tillgång till medicinsk
bedömning dygnet runt
Kommunen tillstyrker förslaget om att läkarmedverkan ska stärkas inom ramen för
befintlig struktur. Vi ser positivt på att regionen får ett tydligare
ansvar för läkarinsatser i kommunal hälso- och sjukvård.
• Läkare ska finnas dygnet runt.
• Avtalen ska följas upp.

Sanktioner
Kommunen instäm-
mer inte i bedömningen.
"""


def test_double_spaced_extraction_gives_the_same_sentences():
    single = segment(DOUBLE_SPACING_SAMPLE)
    double = segment("\n\n".join(DOUBLE_SPACING_SAMPLE.split("\n")))

    def view(sents):
        return [(s.text, s.is_heading, s.bullet, s.headings, s.sections) for s in sents]

    assert view(double) == view(single)
    assert len(body(single)) == 7
    assert by_text(single, "Kommunen instämmer inte").headings[-1] == "Sanktioner"
    assert by_text(single, "Kommunen har bl.a.").headings == ("Synpunkter på förslagen",)


# -- offsets ----------------------------------------------------------------------------------------------

def assert_spans(doc, sentences):
    assert sentences
    for s in sentences:
        assert 0 <= s.start < s.end <= len(doc.raw)
        assert dehyphenate(doc.raw[s.start : s.end]) == s.text, (s.index, doc.raw[s.start : s.end], s.text)


@pytest.mark.parametrize("raw", [SECTIONED, DOUBLE_SPACING_SAMPLE, "\n\n".join(DOUBLE_SPACING_SAMPLE.split("\n"))],
                         ids=["sectioned", "single-spaced", "double-spaced"])
def test_sentence_spans_point_into_raw(raw):
    doc = make_doc(raw)
    assert_spans(doc, Segmenter().segment(doc))


@pytest.mark.parametrize("path", sorted(DOCS_DIR.glob("*.txt")), ids=lambda p: p.stem)
def test_real_document_sentence_spans(path):
    doc = read_document(path)
    sents = Segmenter().segment(doc)
    assert_spans(doc, sents)
    assert [s.index for s in sents] == list(range(len(sents)))
    assert all(a.start < b.start for a, b in zip(sents, sents[1:]))


def test_real_documents_answer_by_heading():
    doc = read_document(DOCS_DIR / "region-sormland.txt")
    sents = Segmenter().segment(doc)
    s = by_text(sents, "Region Sörmland stödjer utredningens förslag att den största potentialen")
    assert s.sections == ("4", "4.1")
    s = by_text(sents, "Region Sörmland stödjer förslaget som kan bidra")
    assert s.sections[-1] == "7.1.1"
