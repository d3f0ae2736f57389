"""Classifier: the Swedish remiss cues of one sentence, and stances per proposal on small synthetic answers.

The sentences are written for these tests in remiss style (not taken from the corpus); the catalog is
the synthetic one of helpers.py, with a negatively phrased target ("Det bör inte införas sanktioner …").
"""
from __future__ import annotations

import pytest
from helpers import CATALOG, predict

from pipeline.stages.cues import negated_target, read_cues
from pipeline.records import STANCES, Doc, Sentence


def cues(text: str, headings: tuple[str, ...] = ()):
    return read_cues(Sentence(doc_id="svar", index=0, text=text, start=0, end=len(text), headings=headings))


def stance_of(text: str, headings: tuple[str, ...] = ()):
    return cues(text, headings).polarity()[0]


# -- one sentence ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text,expected",
    [
        ("Kommunen instämmer inte i förslaget.", "oppose"),
        ("Kommunen instämmer i förslaget.", "support"),
        ("Nämnden kan inte ställa sig bakom förslaget om ett nationellt register.", "oppose"),
        ("Vi ställer oss inte bakom förslaget.", "oppose"),
        ("Regionen ställer sig bakom förslaget.", "support"),
        ("Kommunen ser inga skäl att motsätta sig förslaget.", "support"),
        ("Nämnden ser inte några skäl att motsätta sig utredningens bedömning.", "support"),
        ("Regionen stödjer inte förslaget.", "oppose"),
        ("Regionen stöder ej förslaget om sanktioner.", "oppose"),
        ("Regionen stödjer förslaget.", "support"),
        ("Kommunen avstyrker förslaget.", "oppose"),
        ("Kommunen avstyrker inte förslaget men vill lämna några synpunkter.", "support"),
        ("Kommunen tillstyrker förslaget.", "support"),
        ("Kommunen kan inte tillstyrka förslaget i sin nuvarande form.", "oppose"),
        ("Kommunen tillstyrker därför inte förslaget.", "oppose"),
        ("Kommunen har inget att invända mot förslaget.", "support"),
        ("Kommunen har inga invändningar mot utredningens bedömning.", "support"),
        ("Regionen lämnar förslaget utan erinran.", "support"),
        ("Kommunen tar inte ställning till förslaget.", "neutral"),
        ("Förbundet avstår från att ta ställning i frågan.", "neutral"),
        ("Kommunen tillstyrker förslaget under förutsättning att staten finansierar reformen fullt ut.", "mixed"),
        ("Regionen stödjer förslaget förutsatt att regionerna får täckning för kostnaderna.", "mixed"),
        ("Kommunen delar inte utredningens bedömning.", "oppose"),
        ("Kommunen delar utredningens bedömning.", "support"),
        ("Kommunen motsätter sig förslaget.", "oppose"),
        ("Kommunen välkomnar förslaget om utbildning i munvård.", "support"),
        ("Kommunen ser positivt på att ett register inrättas.", "support"),
        ("Kommunen ser risker med att tandhygienister knyts till hemtjänsten.", "oppose"),
        # a negator outside the cue's clause, or one that only emphasises, does not flip it
        ("Kommunen tillstyrker förslaget, inte minst mot bakgrund av bristen på tandhygienister.", "support"),
        ("Kommunen tillstyrker förslaget inte minst mot bakgrund av bristen på tandhygienister.", "support"),
        ("Regionen stödjer förslaget, inte bara för de äldre utan för alla som bor på äldreboende.", "support"),
        ("Kommunen tillstyrker inte bara förslaget utan även bedömningen.", "support"),
        ("Även om kommunen inte är helt nöjd, tillstyrker vi förslaget.", "support"),
        ("Kommunen har tagit del av betänkandet.", None),
    ],
)
def test_sentence_stance(text, expected):
    assert stance_of(text) == expected


def test_explicit_positions_are_strong_and_leans_weak():
    assert cues("Kommunen tillstyrker förslaget.").polarity() == ("support", 2)
    assert cues("Kommunen är positiv till förslaget.").polarity() == ("support", 1)
    assert cues("Kommunen ser risker med förslaget.").polarity() == ("oppose", 1)


def test_description_of_the_inquiry_is_not_a_position():
    c = cues("Utredningen föreslår att Inspektionen för vård och omsorg ska föra ett nationellt register.")
    assert c.description and not c.has_position and c.polarity() == (None, 0)
    c = cues("Personer över 75 år ska få ett statligt tandvårdsbidrag.", headings=("Ärendebeskrivning",))
    assert c.description and not c.has_position
    # a position taken in the same sentence is not description
    c = cues("Utredningen föreslår ett register, vilket kommunen tillstyrker.")
    assert not c.description and c.polarity()[0] == "support"


def test_general_statements_are_recognised():
    c = cues("Regionen stödjer utredningens bedömningar och slutsatser.")
    assert c.general and not c.general_rest and c.polarity()[0] == "support"
    c = cues("Regionen tillstyrker i allt väsentligt utredningens förslag.")
    assert c.general
    c = cues("Kommunen lämnar övriga förslag utan erinran.")
    assert c.general and c.general_rest and c.polarity()[0] == "support"
    # without a position it is a blanket line: general, but it carries no stance to the rest
    c = cues("Kommunen har inga synpunkter på övriga förslag.")
    assert c.general and c.general_rest and c.polarity()[0] == "neutral"
    # "förslaget att …" names one proposal's content, not a group
    assert not cues("Kommunen tillstyrker utredningens förslag att inrätta ett register.").general


def test_negated_target_detection():
    ids = [p.id for p in CATALOG.proposals if negated_target(p)]
    assert ids == ["inga-sanktioner"]


# -- whole answers ---------------------------------------------------------------------------------------

def check_contract(preds, doc):
    """Every row: one per proposal in catalog order, valid stance/basis/score, evidence that points into raw."""
    assert list(preds) == [p.id for p in CATALOG.proposals]
    for pid, p in preds.items():
        assert p.doc_id == doc.doc_id and p.proposal_id == pid
        assert p.stance in STANCES
        assert 0.0 <= p.score <= 1.0
        assert (p.basis is None) == (p.stance == "none"), p
        if p.stance == "none":
            assert p.evidence == []
        else:
            assert p.basis in ("explicit", "general") and p.evidence
        for ev in p.evidence:
            assert 0 <= ev.start < ev.end <= len(doc.raw)
            first_word = ev.text.split()[0]
            assert first_word in doc.raw[ev.start : ev.end], (first_word, doc.raw[ev.start : ev.end])


def run(raw):
    preds, doc = predict(raw)
    check_contract(preds, doc)
    return preds


def cell(preds, pid):
    p = preds[pid]
    return p.stance, p.basis


SECTIONS = {
    "tandvardsbidrag": "3.1 Ett statligt tandvårdsbidrag för personer över 75 år",
    "inga-sanktioner": "3.2 Det bör inte införas sanktioner mot kommuner som brister i tillsynen",
    "munhalsoregister": "4.1 Ett nationellt register över munhälsobedömningar inrättas",
    "munvardsutbildning": "5.2 Utbildning i munvård för omsorgspersonal",
    "tandhygienist-hemtjanst": "5.3 Tandhygienister knyts till hemtjänsten",
}


def answer(*sections: tuple[str, str], intro: str = "Kommunen har tagit del av betänkandet och lämnar följande yttrande.") -> str:
    """A remissvar that answers section by section: (proposal id or a heading, body text)."""
    parts = ["Yttrande över Bättre munhälsa i äldreomsorgen (SOU 2030:1)", "", intro, ""]
    for key, text in sections:
        parts += [SECTIONS.get(key, key), text, ""]
    return "\n".join(parts)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Kommunen instämmer inte i förslaget.", "oppose"),
        ("Kommunen kan inte ställa sig bakom förslaget.", "oppose"),
        ("Kommunen ser inga skäl att motsätta sig förslaget.", "support"),
        ("Kommunen stödjer inte förslaget.", "oppose"),
        ("Kommunen avstyrker förslaget.", "oppose"),
        ("Kommunen tillstyrker förslaget.", "support"),
        ("Kommunen har inget att invända mot förslaget.", "support"),
        ("Kommunen tar inte ställning till förslaget.", "neutral"),
        ("Kommunen tillstyrker förslaget under förutsättning att staten finansierar det fullt ut.", "mixed"),
    ],
)
def test_reference_by_heading_carries_the_position(text, expected):
    preds = run(answer(("munhalsoregister", text)))
    assert cell(preds, "munhalsoregister") == (expected, "explicit")
    assert {pid: p.stance for pid, p in preds.items() if pid != "munhalsoregister"} == {
        pid: "none" for pid in CATALOG.ids if pid != "munhalsoregister"
    }


def test_reference_by_section_number_only():
    preds = run(answer(("Avsnitt 5.3", "Kommunen tillstyrker förslaget.")))
    assert cell(preds, "tandhygienist-hemtjanst") == ("support", "explicit")
    assert sum(p.stance != "none" for p in preds.values()) == 1


def test_reference_by_title_only():
    raw = answer(
        ("Utbildning i munvård för omsorgspersonal", "Kommunen tillstyrker förslaget."),
        ("Ett forskningsprogram om munhälsa och demens", "Kommunen avstyrker förslaget."),
    )
    preds = run(raw)
    assert cell(preds, "munvardsutbildning") == ("support", "explicit")
    assert cell(preds, "forskningsprogram") == ("oppose", "explicit")
    assert sum(p.stance != "none" for p in preds.values()) == 2


def test_sections_answered_one_after_the_other():
    raw = answer(
        ("tandvardsbidrag", "Kommunen tillstyrker förslaget."),
        ("munhalsoregister", "Kommunen avstyrker förslaget. Registret skulle bli en administrativ börda."),
        ("tandhygienist-hemtjanst", "Kommunen tar inte ställning till förslaget."),
    )
    preds = run(raw)
    assert cell(preds, "tandvardsbidrag") == ("support", "explicit")
    assert cell(preds, "munhalsoregister") == ("oppose", "explicit")
    assert cell(preds, "tandhygienist-hemtjanst") == ("neutral", "explicit")
    for pid in ("inga-sanktioner", "munvardsutbildning", "forskningsprogram"):
        assert cell(preds, pid) == ("none", None)
    ev = preds["munhalsoregister"].evidence[0]
    assert ev.text == "Kommunen avstyrker förslaget."


# -- polarity of a negatively phrased target ---------------------------------------------------------------

def test_arguing_against_sanctions_supports_no_sanctions():
    raw = answer(
        ("inga-sanktioner", "Kommunen anser att sanktioner skulle skada samverkan och är kritisk till sanktioner."),
    )
    assert cell(run(raw), "inga-sanktioner") == ("support", "explicit")


def test_arguing_against_sanctions_without_a_heading():
    raw = answer(("Övriga synpunkter", "Kommunen avstyrker sanktioner mot kommuner som brister i tillsynen av äldreboenden."))
    assert cell(run(raw), "inga-sanktioner") == ("support", "explicit")


def test_rejecting_the_assessment_opposes_it():
    raw = answer(("inga-sanktioner", "Kommunen avstyrker förslaget."))
    assert cell(run(raw), "inga-sanktioner") == ("oppose", "explicit")
    raw = answer(("inga-sanktioner", "Kommunen delar inte utredningens bedömning."))
    assert cell(run(raw), "inga-sanktioner") == ("oppose", "explicit")
    raw = answer(("inga-sanktioner", "Kommunen delar utredningens bedömning."))
    assert cell(run(raw), "inga-sanktioner") == ("support", "explicit")


# -- description is not stance ---------------------------------------------------------------------------

def test_the_inquiry_proposes_is_not_stance():
    raw = answer(
        ("Övriga synpunkter",
         "Utredningen föreslår att Inspektionen för vård och omsorg ska föra ett nationellt register över "
         "munhälsobedömningar i äldreomsorgen."),
    )
    preds = run(raw)
    assert all(p.stance == "none" for p in preds.values()), {k: p.stance for k, p in preds.items()}


def test_case_description_section_restating_the_proposals_is_not_stance():
    raw = "\n".join([
        "Socialnämnden § 12 Yttrande över SOU 2030:1",
        "",
        "Beslut",
        "Socialnämnden beslutar att anta förvaltningens förslag till yttrande.",
        "",
        "Ärendebeskrivning",
        "Personer över 75 år ska få ett statligt tandvårdsbidrag för förebyggande tandvård. Sanktioner mot "
        "kommuner som brister i tillsynen av äldreboenden bör inte införas. Inspektionen för vård och omsorg ska "
        "föra ett nationellt register över munhälsobedömningar i äldreomsorgen. Omsorgspersonal i äldreomsorgen "
        "ska erbjudas utbildning i daglig munvård.",
        "",
        "Förvaltningens synpunkter",
        "Förvaltningen tillstyrker förslaget om utbildning i daglig munvård för omsorgspersonal i äldreomsorgen.",
        "",
    ])
    preds = run(raw)
    assert cell(preds, "munvardsutbildning") == ("support", "explicit")
    for pid in CATALOG.ids:
        if pid != "munvardsutbildning":
            assert preds[pid].stance == "none", (pid, preds[pid])


# -- general statements -----------------------------------------------------------------------------------

def test_general_support_covers_unaddressed_proposals_and_a_specific_statement_overrides():
    raw = answer(
        ("munhalsoregister", "Regionen avstyrker förslaget eftersom registret skulle bli en administrativ börda."),
        intro="Regionen stödjer utredningens bedömningar och slutsatser.",
    )
    preds = run(raw)
    assert cell(preds, "munhalsoregister") == ("oppose", "explicit")
    for pid in CATALOG.ids:
        if pid != "munhalsoregister":
            assert cell(preds, pid) == ("support", "general"), pid
            assert preds[pid].evidence[0].text == "Regionen stödjer utredningens bedömningar och slutsatser."


def test_general_statement_after_the_specific_ones_still_yields_to_them():
    raw = answer(
        ("tandvardsbidrag", "Kommunen avstyrker förslaget."),
        ("Sammanfattande bedömning", "Kommunen tillstyrker i allt väsentligt utredningens förslag."),
    )
    preds = run(raw)
    assert cell(preds, "tandvardsbidrag") == ("oppose", "explicit")
    assert cell(preds, "forskningsprogram") == ("support", "general")


def test_blanket_no_comments_on_the_rest_leaves_them_none():
    raw = answer(
        ("munvardsutbildning", "Kommunen tillstyrker förslaget."),
        ("Övrigt", "Kommunen har inga synpunkter på övriga förslag."),
    )
    preds = run(raw)
    assert cell(preds, "munvardsutbildning") == ("support", "explicit")
    for pid in CATALOG.ids:
        if pid != "munvardsutbildning":
            assert cell(preds, pid) == ("none", None), pid


@pytest.mark.parametrize("addressed", ["tandvardsbidrag", "tandhygienist-hemtjanst"])
def test_the_rest_without_objection_means_every_other_proposal(addressed):
    # Regression: "övriga förslag" covered only proposals after the last one addressed in catalog
    # order, so after answering a late proposal the earlier ones were left none.
    raw = answer(
        (addressed, "Kommunen avstyrker förslaget."),
        ("Övrigt", "Kommunen lämnar övriga förslag utan erinran."),
    )
    preds = run(raw)
    assert cell(preds, addressed) == ("oppose", "explicit")
    for pid in CATALOG.ids:
        if pid != addressed:
            assert cell(preds, pid) == ("support", "general"), pid


def test_no_sentences_means_all_none():
    from pipeline.stages.classify.lexicon import LexiconClassifier

    preds = LexiconClassifier().bind(CATALOG).predict(Doc("svar", []))
    assert [p.stance for p in preds] == ["none"] * len(CATALOG.proposals)
    assert all(p.basis is None and p.evidence == [] for p in preds)


def test_comment_naming_a_proposal_without_position_is_neutral():
    raw = answer(("Övriga synpunkter",
                  "Kommunen vill betona att tandhygienister som gör hembesök hos brukare inom hemtjänsten behöver "
                  "tydliga rutiner."))
    assert cell(run(raw), "tandhygienist-hemtjanst") == ("neutral", "explicit")
