"""Corrections become labels (`stance labels export`), and `stance train` learns from them (`data.extra`):
a model retrained on one corrected document predicts a similar, unreviewed one differently.

The loop runs through the CLI on a small inquiry of our own (tests/helpers.py: CATALOG, NORRBY,
SODERBY), without the embed stage (logreg on cue, link and lexicon features), so it takes seconds.
"""
from __future__ import annotations

import json
import shutil

import pytest

from helpers import CATALOG, NORRBY, SODERBY, read_jsonl, run_main, write_catalog
from pipeline.core.catalog import load_catalog, load_labels
from pipeline.core.corrections import CorrectionLog, cell_value, load_run
from pipeline.evidence import quotes_overlap

NO_EMBED = ("embedder=null", "linker=lexical")
INTRO = "Kommunen har tagit del av betänkandet och lämnar här sina synpunkter på det som föreslås.\n\n"
# A small hand-labelled corpus for the same catalog (what `stance train` reads as data.docs/data.labels).
CORPUS = {
    "vastby": (f"Yttrande från Västby kommun\n\n{INTRO}3.1 Tandvårdsbidrag\nVästby kommun avstyrker förslaget om "
               "tandvårdsbidrag.\n\n5.3 Tandhygienister\nKommunen tillstyrker att tandhygienister knyts till hemtjänsten.\n\n"
               "Kommunen har inga synpunkter på övriga förslag.\n",
               {"tandvardsbidrag": ("oppose", "Västby kommun avstyrker förslaget om tandvårdsbidrag."),
                "tandhygienist-hemtjanst": ("support", "Kommunen tillstyrker att tandhygienister knyts till hemtjänsten.")}),
    "ostby": (f"Yttrande från Östby kommun\n\n{INTRO}4.1 Nationellt register\nÖstby kommun tillstyrker förslaget om ett "
              "nationellt register över munhälsobedömningar.\n\n5.2 Utbildning i munvård\nKommunen ser positivt på "
              "utbildning i munvård för omsorgspersonal.\n\nKommunen har inga synpunkter på övriga förslag.\n",
              {"munhalsoregister": ("support", "Östby kommun tillstyrker förslaget om ett nationellt register över "
                                               "munhälsobedömningar."),
               "munvardsutbildning": ("support", "Kommunen ser positivt på utbildning i munvård för omsorgspersonal.")}),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The catalog, the labelled corpus, and a finished predict run over two new responses."""
    root = tmp_path_factory.mktemp("loop")
    catalog = write_catalog(root / "proposals.yaml")
    corpus = root / "corpus"
    corpus.mkdir()
    labels = []
    for doc_id, (text, cells) in CORPUS.items():
        (corpus / f"{doc_id}.txt").write_text(text, encoding="utf-8")
        for p in CATALOG.proposals:
            stance, quote = cells.get(p.id, ("none", None))
            labels.append({"doc_id": doc_id, "proposal_id": p.id, "stance": stance,
                           "basis": None if stance == "none" else "explicit", "confidence": "high",
                           "evidence": [quote] if quote else [], "note": ""})
    (root / "corpus.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in labels), encoding="utf-8")
    responses = root / "responses"
    responses.mkdir()
    (responses / "norrby.txt").write_text(NORRBY, encoding="utf-8")
    (responses / "soderby.txt").write_text(SODERBY, encoding="utf-8")
    run = root / "run"
    assert run_main(["predict", f"input={responses}", f"output={run}", f"data.catalog={catalog}", *NO_EMBED]) == 0
    return {"root": root, "catalog": catalog, "corpus": corpus, "labels": root / "corpus.jsonl",
            "responses": responses, "run": run}


def correct(run_dir, doc_id: str, pid: str, stance: str, sentence_words: tuple[str, ...], reviewer="Anna"):
    run = load_run(run_dir)
    result = run.result(doc_id)
    indices = [s.index for s in result.sentences if any(w in s.text for w in sentence_words)]
    CorrectionLog(run_dir).save(run, doc_id, pid, cell_value(result, stance, "explicit", indices, "a burden"), reviewer)


def cells(path) -> dict:
    return {(r["doc_id"], r["proposal_id"]): r for r in read_jsonl(path)}


def test_labels_export_writes_the_corpus_format_with_quotes_from_the_document(world, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(world["run"], run)
    correct(run, "norrby", "munhalsoregister", "oppose", ("administrativ börda", "nya rutiner"))
    out = tmp_path / "labels.jsonl"
    assert run_main(["labels", "export", str(run), f"output={out}"]) == 0
    assert "1 labels ->" in capsys.readouterr().out
    (label,) = load_labels(out, load_catalog(world["catalog"]), doc_ids=["norrby", "soderby"])
    assert (label.doc_id, label.proposal_id, label.stance, label.basis) == ("norrby", "munhalsoregister", "oppose",
                                                                           "explicit")
    assert label.confidence == "high" and label.note == "a burden"
    assert len(label.evidence) == 2 and all(" ".join(q.split()) == q and q in " ".join(NORRBY.split())
                                            for q in label.evidence)
    row = read_jsonl(out)[0]
    assert row["reviewer"] == "Anna" and set(row) >= {"doc_id", "proposal_id", "stance", "basis", "confidence",
                                                      "evidence", "note"}


def test_a_correction_of_a_document_that_changed_or_vanished_is_one_line(world, tmp_path, capsys):
    responses = tmp_path / "responses"
    shutil.copytree(world["responses"], responses)
    run = tmp_path / "run"
    assert run_main(["predict", f"input={responses}", f"output={run}", f"data.catalog={world['catalog']}",
                     *NO_EMBED]) == 0
    correct(run, "norrby", "munhalsoregister", "oppose", ("administrativ börda",))
    correct(run, "soderby", "munhalsoregister", "oppose", ("administrativ börda",))
    log = (run / "corrections.jsonl").read_text(encoding="utf-8")
    row = json.loads(log.splitlines()[0])
    (run / "corrections.jsonl").write_text(log + json.dumps({**row, "proposal_id": "struck"}) + "\n", encoding="utf-8")
    (responses / "soderby.txt").unlink()
    out = tmp_path / "labels.jsonl"
    capsys.readouterr()
    assert run_main(["labels", "export", str(run), f"output={out}"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert any("line 2: document 'soderby': its file" in e and "no longer exists: left out" in e for e in err)
    assert any("line 3: proposal 'struck' is not in the catalog" in e for e in err)
    assert [(r["doc_id"], r["proposal_id"]) for r in read_jsonl(out)] == [("norrby", "munhalsoregister")]
    (responses / "norrby.txt").write_text(NORRBY.replace("administrativ börda", "administrativ hjälp"), encoding="utf-8")
    assert run_main(["labels", "export", str(run), f"output={out}"]) == 2  # nothing left to export
    assert "changed since the run" in capsys.readouterr().err


def test_a_quote_that_no_longer_reads_as_its_sentence_is_refused():
    from pipeline.core.labels_export import label_row
    from pipeline.records import CellValue, Correction, Evidence

    ev = Evidence("Kommunen tillstyrker förslaget.", 0, 31)
    c = Correction("d", "p", CellValue("none", None), CellValue("support", "explicit", (ev,)), "Anna", "t")
    assert label_row(c, "Kommunen tillstyrker förslaget. Mer text.")["evidence"] == ["Kommunen tillstyrker förslaget."]
    assert quotes_overlap("Kommunen tillstyrker förslaget.", ev.text)
    with pytest.raises(ValueError, match="no longer reads"):
        label_row(c, "Helt annan text om något annat här, inget som liknar det.")


def test_corrections_of_one_document_change_the_retrained_models_prediction_on_a_similar_one(world, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(world["run"], run)
    before = cells(run / "predictions.jsonl")
    assert before[("soderby", "munhalsoregister")]["stance"] == "neutral"  # the lexicon's reading, on both documents
    assert before[("norrby", "munhalsoregister")]["stance"] == "neutral"
    correct(run, "norrby", "munhalsoregister", "oppose", ("administrativ börda", "nya rutiner"))
    labels = tmp_path / "corrections.jsonl"
    assert run_main(["labels", "export", str(run), f"output={labels}"]) == 0

    data = [f"data.docs={world['corpus']}", f"data.labels={world['labels']}", f"data.catalog={world['catalog']}"]
    common = ["classifier=logreg", "classifier.use_embeddings=false", *NO_EMBED, f"paths.models_dir={tmp_path / 'models'}",
              *data]
    assert run_main(["train", "name=corpus-only", *common, f"output={tmp_path / 't0'}"]) == 0
    assert run_main(["train", "name=with-corrections", *common,
                     f"data.extra=[{{docs: {world['responses']}, labels: {labels}}}]", f"output={tmp_path / 't1'}"]) == 0
    meta = json.loads((tmp_path / "models" / "with-corrections" / "model.json").read_text(encoding="utf-8"))
    assert "norrby" in meta["training_data"]["documents"] and "soderby" not in meta["training_data"]["documents"]

    unreviewed = world["responses"] / "soderby.txt"
    for name in ("corpus-only", "with-corrections"):
        assert run_main(["predict", f"model={tmp_path / 'models' / name}", f"input={unreviewed}",
                         f"output={tmp_path / name}", f"data.catalog={world['catalog']}", *NO_EMBED]) == 0
    plain = cells(tmp_path / "corpus-only" / "predictions.jsonl")[("soderby", "munhalsoregister")]
    learnt = cells(tmp_path / "with-corrections" / "predictions.jsonl")[("soderby", "munhalsoregister")]
    assert plain["stance"] == "neutral"
    assert learnt["stance"] == "oppose"
    assert any("administrativ börda" in e["text"] for e in learnt["evidence"])


def test_extra_labels_for_a_document_of_the_corpus_are_refused(world, tmp_path, capsys):
    clash = tmp_path / "clash.jsonl"
    row = {"doc_id": "vastby", "proposal_id": "tandvardsbidrag", "stance": "support", "basis": "explicit",
           "evidence": [], "note": ""}
    clash.write_text(json.dumps(row) + "\n", encoding="utf-8")
    assert run_main(["train", "name=x", "classifier=logreg", "classifier.use_embeddings=false", *NO_EMBED,
                     f"paths.models_dir={tmp_path}", f"data.docs={world['corpus']}", f"data.labels={world['labels']}",
                     f"data.catalog={world['catalog']}", f"data.extra=[{{docs: {world['corpus']}, labels: {clash}}}]",
                     f"output={tmp_path / 'out'}"]) == 2
    assert "document 'vastby' is also in data.docs" in capsys.readouterr().err
