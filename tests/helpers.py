"""Builders shared by the foundation tests: documents from raw text, a small synthetic catalog.

Nothing here reads the network or the embed stage. Import as `from helpers import …` (pytest puts
tests/ on sys.path because the folder has no __init__.py).
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from pipeline.stages.ingest import normalise
from pipeline.records import Catalog, Doc, Document, Proposal

ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = ROOT / "data" / "sou-2024-72"
DOCS_DIR = CORPUS_DIR / "docs"
CATALOG_PATH = CORPUS_DIR / "proposals.yaml"
LABELS_PATH = CORPUS_DIR / "labels" / "stance.jsonl"


def set_offline(mp, cache_dir, hf_home) -> None:
    """An offline run's environment on a pytest MonkeyPatch: no hub, the tests' cache, an empty HF_HOME."""
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setenv("REMISS_CACHE", str(cache_dir))
    mp.setenv("HF_HOME", str(hf_home))


@contextmanager
def offline_env(cache_dir, hf_home):
    """`set_offline` for module- and session-scoped fixtures, which get no `monkeypatch`."""
    import pytest

    with pytest.MonkeyPatch.context() as mp:
        set_offline(mp, cache_dir, hf_home)
        yield


def make_doc(raw: str, doc_id: str = "svar") -> Document:
    """A Document from raw text, exactly as read_document would build it from a UTF-8 .txt."""
    text, offsets = normalise(raw)
    return Document(doc_id=doc_id, path=f"{doc_id}.txt", raw=raw, text=text, offsets=offsets)


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# Words after which a line-end hyphen is a suspended compound ("hälso- och sjukvård", "vård- eller omsorg").
SUSPENDED_COMPOUND_NEXT = {"och", "eller", "samt", "respektive", "resp", "som", "till", "men", "än"}


def dehyphenate(raw: str) -> str:
    """What a reader makes of a raw slice: line-end hyphens undone, whitespace collapsed.

    Written from the rules (not from the ingest code): a word broken at a line end joins up
    (`instäm-` + `mer`); a suspended compound keeps hyphen and space (`hälso-` + `och`); a date or
    an upper-case continuation keeps the hyphen without a space (`2025-02-` + `13`, `MAS-` + `MAR`).
    """

    def join(m: re.Match) -> str:
        head, nxt = m.group(1), m.group(2)
        if nxt.lower() in SUSPENDED_COMPOUND_NEXT:
            return f"{head}- {nxt}"
        if nxt[:1].islower():
            return head + nxt
        return f"{head}-{nxt}"

    return collapse(re.sub(r"(\w)-[ \t]*\n\s*(\w+)", join, raw))


def quote_pattern(quote: str) -> re.Pattern:
    """A gold evidence quote as a pattern over normalised text.

    LABELING.md: quotes are whitespace-normalised and keep a hyphen that ended a line (`instäm-mer`),
    which normalised text has undone (`instämmer`); a hyphen inside a word may be either kind, so it
    is optional. Everything else must match exactly.
    """
    parts = re.split(r"(?<=[a-zåäöé])-(?=[a-zåäöé])", collapse(quote))
    return re.compile("-?".join(re.escape(p) for p in parts))


# A small inquiry of our own: six proposals, one of them negatively phrased (like inga-sanktioner).
CATALOG = Catalog(
    sou="SOU 2030:1",
    title="Bättre munhälsa i äldreomsorgen",
    proposals=(
        Proposal("tandvardsbidrag", "Ett statligt tandvårdsbidrag för personer över 75 år",
                 "Personer över 75 år ska få ett statligt tandvårdsbidrag för förebyggande tandvård.", "3.1"),
        Proposal("inga-sanktioner", "Det bör inte införas sanktioner mot kommuner som brister i tillsynen",
                 "Utredningen bedömer att sanktioner mot kommuner som brister i tillsynen av äldreboenden inte bör införas.",
                 "3.2", kind="bedomning"),
        Proposal("munhalsoregister", "Ett nationellt register över munhälsobedömningar inrättas",
                 "Inspektionen för vård och omsorg ska föra ett nationellt register över munhälsobedömningar i äldreomsorgen.",
                 "4.1"),
        Proposal("munvardsutbildning", "Utbildning i munvård för omsorgspersonal",
                 "Omsorgspersonal i äldreomsorgen ska erbjudas utbildning i daglig munvård.", "5.2"),
        Proposal("tandhygienist-hemtjanst", "Tandhygienister knyts till hemtjänsten",
                 "Varje kommun ska ha tillgång till tandhygienister som gör hembesök hos brukare inom hemtjänsten.", "5.3"),
        Proposal("forskningsprogram", "Ett forskningsprogram om munhälsa och demens",
                 "Vetenskapsrådet får i uppdrag att inrätta ett forskningsprogram om munhälsa hos personer med demenssjukdom.",
                 None),
    ),
    path="synthetic-catalog",
)


def predict(raw: str, catalog: Catalog = CATALOG, doc_id: str = "svar"):
    """{proposal_id: Prediction} of the lexicon baseline (with the lexical linker) on one raw document."""
    from pipeline.stages.classify.lexicon import LexiconClassifier
    from pipeline.stages.link import RuleLinker
    from pipeline.stages.segment import Segmenter

    doc = make_doc(raw, doc_id)
    sentences = Segmenter().segment(doc)
    preds = LexiconClassifier(RuleLinker(use_embeddings=False)).bind(catalog).predict(Doc(doc_id, sentences))
    return {p.proposal_id: p for p in preds}, doc


DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def text_pdf_bytes(lines: list[str]) -> bytes:
    """A real one-page PDF with a text layer (fpdf2)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    if DEJAVU.is_file():
        pdf.add_font("DejaVu", fname=str(DEJAVU))
        pdf.set_font("DejaVu", size=11)
    else:  # core font: Latin-1 only, which Swedish letters are
        pdf.set_font("Helvetica", size=11)
    for line in lines:
        pdf.multi_cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


STANCE_SCRIPT = Path(sys.executable).with_name("stance")


def run_main(args: list[str]) -> int:
    """pipeline.cli.main in-process, leaving the logging setup and sys.argv as it found them (Hydra
    reconfigures logging; the CLI rewrites sys.argv)."""
    from pipeline.cli import main

    root = logging.getLogger()
    handlers, level, argv = root.handlers[:], root.level, sys.argv[:]
    try:
        return main(list(args))
    finally:
        sys.argv = argv
        for h in root.handlers[:]:
            if h not in handlers:
                root.removeHandler(h)
                h.close()
        for h in handlers:
            if h not in root.handlers:
                root.addHandler(h)
        root.setLevel(level)


def run_stance(args: list[str], cache_dir, hf_home, cwd=None) -> subprocess.CompletedProcess:
    cmd = [str(STANCE_SCRIPT)] if STANCE_SCRIPT.exists() else [sys.executable, "-m", "pipeline.cli"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "REMISS_CACHE": str(cache_dir), "HF_HOME": str(hf_home)}
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def compose(overrides: list[str], hydra_cfg: bool = False):
    """The project's config as Hydra composes it for `stance <command> <overrides>`."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from pipeline.cli import CONFIG_DIR  # importing pipeline.cli registers the config's resolvers

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return hydra_compose("config", overrides=overrides, return_hydra_config=hydra_cfg)


def embedder_cfg(name: str, *overrides: str):
    """The embedder config node `embedder=<name>` composes to (its fallback node included)."""
    return compose([f"embedder={name}", *overrides]).embedder


def write_catalog(path: Path, catalog: Catalog = CATALOG) -> Path:
    """A proposals.yaml of `catalog` (the synthetic one by default)."""
    import yaml

    doc = {"sou": catalog.sou, "title": catalog.title,
           "proposals": [{"id": p.id, "title": p.title, "summary": p.summary, "section": p.section, "kind": p.kind}
                         for p in catalog.proposals]}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# Two responses to CATALOG that read one proposal the same way, which the lexicon gets wrong: a
# register "would be one more administrative burden" is opposition, the lexicon finds no cue (neutral).
NORRBY = """Yttrande från Norrby kommun

Norrby kommun har tagit del av betänkandet.

3.1 Tandvårdsbidrag
Kommunen tillstyrker förslaget om ett statligt tandvårdsbidrag för personer över 75 år.

4.1 Nationellt register
Ett nationellt register över munhälsobedömningar skulle bli ännu en administrativ börda för kommunerna och tar tid från vården. Registret skulle kräva nya rutiner på varje äldreboende.

5.2 Utbildning i munvård
Kommunen ser positivt på utbildning i munvård för omsorgspersonal.
"""
SODERBY = NORRBY.replace("Norrby", "Söderby").replace(
    "skulle bli ännu en administrativ börda för kommunerna och tar tid från vården",
    "blir ytterligare en administrativ börda för kommunerna och tar tid från omsorgen")
BURDEN_SENTENCE = ("Ett nationellt register över munhälsobedömningar skulle bli ännu en administrativ börda för "
                   "kommunerna och tar tid från vården.")
# Document strings that must reach a page only as text.
HOSTILE = ("<script>alert('doc')</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)")
HOSTILE_DOC = f"""Yttrande {HOSTILE[0]}

Kommunen har tagit del av betänkandet och lämnar här sina synpunkter på det som föreslås.

3.1 Tandvårdsbidrag {HOSTILE[1]}
Kommunen tillstyrker förslaget om tandvårdsbidrag, se {HOSTILE[2]} för mer om det.
"""
HOSTILE_NAME = 'evil"><img src=x onerror=alert(2)>'


OUTPUTS = ("predictions.jsonl", "matrix.csv", "errors.jsonl", "report.html")


def outputs_of(out: Path) -> dict[str, bytes]:
    files = {name: (out / name).read_bytes() for name in OUTPUTS}
    files["xlsx"] = json.dumps(workbook_values(out / "remissammanstallning.xlsx")).encode()
    return files


def workbook_values(path: Path) -> dict:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def copies(folder: Path, n: int) -> Path:
    """n documents: the labelled ones under new names, cycling."""
    folder.mkdir(parents=True)
    sources = sorted(DOCS_DIR.glob("*.txt"))
    for i in range(n):
        shutil.copy(sources[i % len(sources)], folder / f"svar-{i:03d}.txt")
    return folder
