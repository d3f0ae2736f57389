"""Catalog and label loaders: the two files a new SOU brings; every problem names the file (and line)."""
from __future__ import annotations

import json

import pytest
import yaml
from helpers import CATALOG_PATH, DOCS_DIR, LABELS_PATH

from pipeline.core.catalog import load_catalog, load_labels
from pipeline.errors import InputError
from pipeline.records import STANCES

PROPOSALS = [
    {"id": "tandvardsbidrag", "section": "3.1", "title": "Ett statligt tandvårdsbidrag",
     "summary": "Personer över 75 år får ett tandvårdsbidrag."},
    {"id": "munhalsoregister", "section": "4.1", "kind": "forslag", "title": "Ett nationellt register",
     "summary": "IVO för ett register över munhälsobedömningar.", "english": "A national register."},
    {"id": "forskningsprogram", "section": None, "kind": "bedomning", "title": "Ett forskningsprogram",
     "summary": "Ett forskningsprogram om munhälsa och demens."},
]


def write_catalog(tmp_path, proposals=PROPOSALS, name="proposals.yaml", **top):
    path = tmp_path / name
    doc = {"sou": "SOU 2030:1", "title": "Bättre munhälsa i äldreomsorgen", **top, "proposals": proposals}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_labels(tmp_path, rows, name="stance.jsonl"):
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def row(doc="svar-a", pid="tandvardsbidrag", stance="support", basis="explicit", **extra):
    return {"doc_id": doc, "proposal_id": pid, "stance": stance, "basis": basis, **extra}


def error_of(fn, *args, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


# -- catalog ----------------------------------------------------------------------------------------------

def test_catalog_loads(tmp_path):
    cat = load_catalog(write_catalog(tmp_path))
    assert cat.sou == "SOU 2030:1" and cat.ids == ["tandvardsbidrag", "munhalsoregister", "forskningsprogram"]
    assert cat["munhalsoregister"].english == "A national register."
    assert cat["forskningsprogram"].section is None and cat["forskningsprogram"].kind == "bedomning"
    assert cat["tandvardsbidrag"].kind == "forslag"
    with pytest.raises(KeyError):
        cat["finns-inte"]


def test_catalog_duplicate_id(tmp_path):
    path = write_catalog(tmp_path, PROPOSALS + [dict(PROPOSALS[1], title="Ett annat register")])
    msg = error_of(load_catalog, path)
    assert str(path) in msg and "duplicate" in msg and "munhalsoregister" in msg


@pytest.mark.parametrize("field", ["id", "title", "summary"])
def test_catalog_missing_field(tmp_path, field):
    broken = [dict(p) for p in PROPOSALS]
    del broken[1][field]
    path = write_catalog(tmp_path, broken)
    msg = error_of(load_catalog, path)
    assert str(path) in msg and field in msg and "#2" in msg


def test_catalog_blank_field(tmp_path):
    broken = [dict(p) for p in PROPOSALS]
    broken[0]["summary"] = "   "
    msg = error_of(load_catalog, write_catalog(tmp_path, broken))
    assert "summary" in msg


def test_catalog_not_yaml(tmp_path):
    path = tmp_path / "proposals.yaml"
    path.write_text("proposals: [\n  {id: a, title: 'unterminated\n", encoding="utf-8")
    msg = error_of(load_catalog, path)
    assert str(path) in msg and "YAML" in msg


def test_catalog_binary(tmp_path):
    path = tmp_path / "proposals.yaml"
    path.write_bytes(b"\xff\xfe\x00\x81binary\x00")
    msg = error_of(load_catalog, path)
    assert str(path) in msg


@pytest.mark.parametrize("content", ["bara en rad text\n", "- a\n- b\n", "proposals: []\n", "sou: SOU 2030:1\n", ""])
def test_catalog_without_proposals(tmp_path, content):
    path = tmp_path / "proposals.yaml"
    path.write_text(content, encoding="utf-8")
    msg = error_of(load_catalog, path)
    assert str(path) in msg and "proposals" in msg


def test_catalog_proposal_not_a_mapping(tmp_path):
    msg = error_of(load_catalog, write_catalog(tmp_path, [PROPOSALS[0], "bara text"]))
    assert "#2" in msg


def test_catalog_missing_file(tmp_path):
    msg = error_of(load_catalog, tmp_path / "saknas.yaml")
    assert "saknas.yaml" in msg and "not found" in msg


# -- labels -----------------------------------------------------------------------------------------------

@pytest.fixture
def catalog(tmp_path):
    return load_catalog(write_catalog(tmp_path))


def test_labels_load(tmp_path, catalog):
    path = write_labels(tmp_path, [
        row(evidence=["Kommunen tillstyrker."], confidence="low", note="kort"),
        row(pid="munhalsoregister", stance="none", basis=None),
        "",
        row(doc="svar-b", pid="forskningsprogram", stance="mixed", basis="general"),
    ])
    labels = load_labels(path, catalog, doc_ids=["svar-a", "svar-b"])
    assert [(x.doc_id, x.proposal_id, x.stance, x.basis) for x in labels] == [
        ("svar-a", "tandvardsbidrag", "support", "explicit"),
        ("svar-a", "munhalsoregister", "none", None),
        ("svar-b", "forskningsprogram", "mixed", "general"),
    ]
    assert labels[0].evidence == ("Kommunen tillstyrker.",) and labels[0].confidence == "low"
    assert labels[1].confidence == "high"


def test_labels_unknown_proposal(tmp_path, catalog):
    path = write_labels(tmp_path, [row(), row(pid="finns-inte")])
    msg = error_of(load_labels, path, catalog)
    assert str(path) in msg and "line 2" in msg and "finns-inte" in msg


def test_labels_unknown_stance(tmp_path, catalog):
    path = write_labels(tmp_path, [row(), row(pid="munhalsoregister"), row(pid="forskningsprogram", stance="positive")])
    msg = error_of(load_labels, path, catalog)
    assert str(path) in msg and "line 3" in msg and "positive" in msg
    assert all(s in msg for s in STANCES)


def test_labels_malformed_json(tmp_path, catalog):
    path = write_labels(tmp_path, [row(), '{"doc_id": "svar-a", "proposal_id": '])
    msg = error_of(load_labels, path, catalog)
    assert str(path) in msg and "line 2" in msg and "JSON" in msg


def test_labels_unknown_doc_id(tmp_path, catalog):
    path = write_labels(tmp_path, [row(), row(doc="svar-x", pid="munhalsoregister")])
    assert load_labels(path, catalog)  # without doc_ids any doc id is accepted
    msg = error_of(load_labels, path, catalog, doc_ids=["svar-a"])
    assert str(path) in msg and "line 2" in msg and "svar-x" in msg


@pytest.mark.parametrize(
    "bad,needle",
    [
        (row(pid="munhalsoregister", stance="none", basis="explicit"), "basis"),
        (row(pid="munhalsoregister", basis="implicit"), "implicit"),
        (row(pid="munhalsoregister", basis=None), "basis"),
        ({"doc_id": "svar-a", "stance": "support", "basis": "explicit"}, "proposal_id"),
        (row(pid="munhalsoregister", evidence="en sträng, inte en lista"), "evidence"),
        (row(pid="munhalsoregister", evidence=["ett citat", 3]), "evidence"),
        ("[1, 2, 3]", "JSON object"),
    ],
)
def test_labels_schema_errors(tmp_path, catalog, bad, needle):
    path = write_labels(tmp_path, [row(), bad])
    msg = error_of(load_labels, path, catalog)
    assert str(path) in msg and "line 2" in msg and needle in msg


def test_labels_duplicate_cell(tmp_path, catalog):
    path = write_labels(tmp_path, [row(), row(stance="oppose")])
    msg = error_of(load_labels, path, catalog)
    assert "line 2" in msg and "duplicate" in msg


def test_labels_empty_or_missing(tmp_path, catalog):
    empty = tmp_path / "tom.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    assert "no labels" in error_of(load_labels, empty, catalog)
    assert "not found" in error_of(load_labels, tmp_path / "saknas.jsonl", catalog)
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(json.dumps(row(note="höst"), ensure_ascii=False).encode("latin-1"))
    assert "UTF-8" in error_of(load_labels, latin, catalog)


# -- the shipped corpus -------------------------------------------------------------------------------------

def test_real_catalog_and_labels_load():
    cat = load_catalog(CATALOG_PATH)
    assert cat.sou == "SOU 2024:72" and len(cat.proposals) == 12
    assert len(set(cat.ids)) == 12 and "inga-sanktioner" in cat.ids
    doc_ids = [p.stem for p in sorted(DOCS_DIR.glob("*.txt"))]
    labels = load_labels(LABELS_PATH, cat, doc_ids=doc_ids)
    assert len(labels) == 60
    # one label per (document, proposal): the full grid
    assert {(x.doc_id, x.proposal_id) for x in labels} == {(d, p) for d in doc_ids for p in cat.ids}
    assert all((x.basis is None) == (x.stance == "none") for x in labels)
