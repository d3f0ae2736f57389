"""MODEL_CARD.md of a trained artifact: intended use, training data, cross-validated metrics against the
lexicon baseline, limitations, and the command that retrains it."""
from __future__ import annotations

import json
from pathlib import Path

from ..records import STANCES
from .cv import CV_PROTOCOL
from .provenance import PROJECT_ROOT


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def _shown(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def model_card(meta: dict, metrics: dict, path=None) -> str:
    cv, base = meta["cv"], meta["lexicon_baseline"]
    enc = meta.get("encoder") or {}
    td = meta["training_data"]
    rows = ["| metric | this model (CV) | lexicon baseline |", "|---|---|---|"]
    for k in ("cell_accuracy", "macro_f1", "addressed_f1", "stance_macro_f1_addressed"):
        rows.append(f"| {k} | {_fmt(cv.get(k))} | {_fmt(base.get(k))} |")
    for lab in STANCES:
        rows.append(f"| F1 {lab} | {_fmt(cv['per_label_f1'].get(lab))} | {_fmt(base['per_label_f1'].get(lab))} |")
    fold_rows = ["| held-out document | cells | cell accuracy | errors |", "|---|---|---|---|"]
    for doc, f in metrics["folds"].items():
        errs = ", ".join(f"{e['proposal_id']} {e['gold']}→{e['predicted']}" for e in f["errors"]) or "—"
        fold_rows.append(f"| {doc} | {f['n_cells']} | {_fmt(f['cell_accuracy'])} | {errs} |")
    beats = cv["cell_accuracy"] > base["cell_accuracy"]
    link = meta.get("linking") or {}
    return f"""# {meta['name']}

Stance of Swedish consultation responses (remissvar) toward each proposal of an SOU: the registered
classifier `{meta['classifier']}`, made by `remiss stance` on {meta['created']}.

## Intended use
Drafting a *remissammanställning*: for every (response, proposal) a stance (support, oppose, mixed,
neutral, none) with evidence sentences as offsets into the original file, for an analyst to check.
Not for deciding anything without reading the evidence. Swedish remissvar only.

    stance predict model={_shown(path) if path else Path('models') / meta['name']} input=<folder> output=<dir>

## Training data
{td.get('sou')}: {len(td.get('documents', []))} hand-labelled responses ({', '.join(td.get('documents', []))}),
{td.get('n_labels')} cells, {len(td.get('catalog', []))} proposals; data hash `{td.get('data_hash')}`.
Sentence-level training pairs derived from the labels' evidence quotes: {td.get('pairs')} pairs
({', '.join(f'{k} {v}' for k, v in (td.get('targets') or {}).items())}); evidence quotes that matched no
sentence: {td.get('unmatched_quotes')}.

Encoder: {enc.get('name', 'none')} (`{enc.get('model')}`, revision `{enc.get('revision')}`,
fingerprint `{enc.get('fingerprint')}`){' — fallback from ' + enc['fallback_from'] if enc.get('fallback_from') else ''}.
A run with another encoder is refused. Hyperparameters: `{json.dumps(meta['hyperparameters'], ensure_ascii=False)}`.

## Metrics
{CV_PROTOCOL} cross-validation (train on {len(td.get('documents', [])) - 1} documents, predict the
held-out one; pooled over the folds). The lexicon baseline is not trained, so it is scored on all
documents as they are.

{chr(10).join(rows)}

{'This model beats the lexicon baseline on cell accuracy under cross-validation.' if beats else
 'This model does NOT beat the lexicon baseline on cell accuracy under cross-validation: prefer the lexicon.'}
Cells where the cross-validated predictions differ from the lexicon's: {base.get('cells_differing_from_cv')}.

Per fold:

{chr(10).join(fold_rows)}

Linking (the linker alone, against evidence sentences of explicit labels): precision
{_fmt(link.get('precision'))}, recall {_fmt(link.get('recall'))}; share of explicit cells with an
evidence sentence linked: {_fmt(link.get('cells_with_evidence_linked'))}.

## Limitations
- Five documents, 60 cells: every number above has a wide confidence interval (one cell is 1.7
  points of accuracy); `mixed` and `neutral` have one or two cells each.
- The lexicon cues and aggregation rules were written with these documents visible, and the
  hyperparameters were chosen looking at these CV numbers: the CV numbers are optimistic for new SOUs.
- The model reads only candidate pairs the linker proposes (recall above) and cannot repair a
  missing link; general statements and the "specific overrides general" rule are structural.
- Sentence targets come from evidence quotes; sentences the annotators did not quote count as `none`.

## How to retrain

    {meta['train_command']}

Same config and data give the same weights (fixed seeds); `metrics.json` holds the full CV metrics,
`cv_predictions.jsonl` the held-out predictions, `config.yaml` the resolved config.
"""


def corpora_card(meta: dict, path=None) -> str:
    """The card of a model learned from several corpora: held-out quality per corpus, never pooled."""
    enc = meta.get("encoder") or {}
    td = meta["training_data"]
    head = "| corpus | real | cells | protocol | cell accuracy | macro F1 | stance macro F1 (addressed) | F1 oppose |"
    rows = [head, "|---|---|---|---|---|---|---|---|"]
    for name, per in meta["cv"]["per_corpus"].items():
        info = td["corpora"][name]
        for protocol, m in per.items():
            if m:
                rows.append(f"| {name} | {'real' if info.get('real') else 'authored'} | {m['n_cells']} | {protocol} | "
                            f"{_fmt(m['cell_accuracy'])} | {_fmt(m['macro_f1'])} | "
                            f"{_fmt(m['stance_macro_f1_addressed'])} | {_fmt(m['per_label_f1'].get('oppose'))} |")
    corpora = ", ".join(f"{n} ({len(i['documents'])} documents, {'real' if i.get('real') else 'authored'}, "
                        f"inquiry {i['inquiry']})" for n, i in td["corpora"].items())
    return f"""# {meta['name']}

Stance of Swedish consultation responses (remissvar) toward each proposal of an SOU: the registered
classifier `{meta['classifier']}` with the linker `{(meta.get('linker') or {}).get('_target_')}`, learned
from several labelled corpora, made by `remiss stance` on {meta['created']}.

## Intended use
Drafting a *remissammanställning* for an analyst to check, on any inquiry's catalog:

    stance predict model={_shown(path) if path else Path('models') / meta['name']} input=<folder> output=<dir>

## Training data
{corpora}; data hash `{td.get('data_hash')}`; {td.get('pairs')} sentence-level training pairs. Encoder:
{enc.get('name', 'none')} (`{enc.get('model')}`, fingerprint `{enc.get('fingerprint')}`); a run with
another encoder is refused. Hyperparameters: `{json.dumps(meta['hyperparameters'], ensure_ascii=False)}`.

## Held-out quality
Each corpus apart: {CV_PROTOCOL} within the corpus (fitted on its other documents), leave-one-inquiry-out
(fitted on the corpora of the other inquiries only), and `rules` (the untrained lexicon with the same
linker, for comparison: nothing learned). The model itself was fitted on every corpus.

{chr(10).join(rows)}

## Limitations
- Seventeen documents, most of them written for development: every number has a wide interval.
- The rules the model corrects were written with these corpora in view: the `rules` rows are
  development numbers, the held-out rows measure only what was learned.

## How to retrain

    {meta['train_command']}

Same config and data give the same weights (fixed seeds).
"""
