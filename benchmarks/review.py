"""The analyst's loop, simulated: how many cells must an analyst review before the delivered table is right?

For each labelled corpus (data/sou-2024-72: real responses; data/sou-2024-72-authored and
data/dricksvatten-authored: authored ones) the draft is what `stance predict` delivers by default
(lexicon classifier, hybrid linker, e5-hf encoder: what kb-sbert falls back to offline). A simulated
analyst then reviews one cell at a time and answers from the hand labels: a reviewed cell
is right from then on, the rest of the table is as the model has it. Measured, after every review:
the cell accuracy of the delivered table (reviewed cells + the model's other cells) against the
hand labels, for

  queue          the order of `stance review` (pipeline/core/review_queue.py)
  random         a random order (the mean over --seeds orders)
  … + retrain    every --every reviews, logreg is fitted on the reviewed cells' labels (what `stance
                 labels export` writes; pairs of unreviewed cells are left out) and predicts the cells
                 not yet reviewed; the queue keeps its order (--resort: re-sorted on the new scores)

and the headlines: the fewest cells an analyst must review to deliver ≥ --target accuracy, and to
deliver a table with every error corrected (where in the order the draft's errors sit). Writes
--json and the figure --png (docs/review-curve.png).

    python benchmarks/review.py [--every 10] [--seeds 20] [--target 0.98] [--resort] [--embedder null]
                                [--json out.json] [--png docs/review-curve.png]
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.core.components import build_classifier  # noqa: E402
from pipeline.core.corpus import load_corpus  # noqa: E402
from pipeline.core.provenance import Timer  # noqa: E402
from pipeline.core.review_queue import review_queue  # noqa: E402
from pipeline.errors import UserError  # noqa: E402
from pipeline.records import Corpus, DocResult  # noqa: E402

CORPORA = [("sou-2024-72", "real"), ("sou-2024-72-authored", "authored"), ("dricksvatten-authored", "authored")]


def compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from pipeline.cli import CONFIG_DIR  # registers the config's resolvers

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return hydra_compose("config", overrides=overrides)


class Loop:
    """One corpus: its draft, its hand labels, and the simulated analyst's walk through it."""

    def __init__(self, name: str, embedder: str):
        root = ROOT / "data" / name
        data = [f"data.docs={root / 'docs'}", f"data.catalog={root / 'proposals.yaml'}",
                f"data.labels={root / 'labels' / 'stance.jsonl'}"]
        stages = [f"embedder={embedder}"] if embedder != "null" else ["~embedder", "linker=lexical",
                                                                      "classifier.use_embeddings=false"]
        self.cfg = compose([*data, *[s for s in stages if not s.startswith("classifier.")], "classifier=lexicon"])
        self.retrain_cfg = compose([*data, *stages, "classifier=logreg"])
        loaded = load_corpus(self.cfg, Timer())
        self.corpus = loaded.corpus
        self.gold = {(lab.doc_id, lab.proposal_id): lab for lab in self.corpus.labels}
        self.draft = self.predict(build_classifier(self.cfg).fit(self.corpus))
        self.low = float(self.cfg.report.low_confidence)
        self.linker = dict(self.cfg.linker) if self.cfg.get("linker") is not None else None

    def predict(self, classifier) -> dict:
        return {(p.doc_id, p.proposal_id): p for d in sorted(self.gold_docs()) for p in
                classifier.predict(self.corpus.docs[d])}

    def gold_docs(self):
        return {d for d, _ in self.gold}

    def queue(self, preds: dict, done: set) -> list:
        results = [DocResult(d, d, "", self.corpus.docs[d].sentences,
                             [preds[(d, pid)] for pid in self.corpus.catalog.ids if (d, pid) in preds])
                   for d in sorted(self.gold_docs())]
        order = review_queue(results, self.corpus.catalog, self.low, self.linker)
        return [(q.doc_id, q.proposal_id) for q in order if (q.doc_id, q.proposal_id) not in done]

    def accuracy(self, preds: dict, done: set) -> float:
        right = sum(k in done or preds[k].stance == g.stance for k, g in self.gold.items())
        return right / len(self.gold)

    def retrain(self, done: set, preds: dict) -> dict:
        """logreg fitted on the reviewed cells' labels; its predictions (the old ones where it can't be fitted)."""
        labels = [self.gold[k] for k in sorted(done)]
        docs = {d for d, _ in done}
        corpus = Corpus(self.corpus.catalog, {d: self.corpus.docs[d] for d in sorted(self.gold_docs())}, labels,
                        self.corpus.proposal_vectors)
        try:
            clf = build_classifier(self.retrain_cfg).fit(corpus)
        except (UserError, ValueError):  # one class only, or too few pairs: nothing to learn yet
            return preds
        if not docs:
            return preds
        return self.predict(clf)

    def walk(self, order: str, every: int | None, seed: int = 0, resort: bool = False) -> tuple[list[float], int]:
        """Accuracy of the delivered table after 0, 1, …, n reviews, and how many times a retrained model
        changed the stance of a cell not yet reviewed."""
        preds, done, changed = dict(self.draft), set(), 0
        if order == "queue":
            todo = self.queue(preds, done)
        else:
            todo = sorted(self.gold)
            random.Random(seed).shuffle(todo)
        curve = [self.accuracy(preds, done)]
        while todo:
            done.add(todo.pop(0))
            if every and len(done) % every == 0 and todo:
                new = self.retrain(done, preds)
                changed += sum(new[k].stance != preds[k].stance for k in todo)
                preds = new
                if order == "queue" and resort:
                    todo = self.queue(preds, done)
            curve.append(self.accuracy(preds, done))
        return curve, changed


def cells_to(curve: list[float], target: float) -> int:
    return next(k for k, acc in enumerate(curve) if acc >= target - 1e-12)


def run_corpus(name: str, kind: str, args) -> dict:
    t0 = time.perf_counter()
    loop = Loop(name, args.embedder)
    out = {"corpus": name, "kind": kind, "cells": len(loop.gold), "documents": len(loop.gold_docs()),
           "draft_accuracy": loop.accuracy(loop.draft, set()), "curves": {}, "cells_to_target": {},
           "cells_to_all_right": {}}
    errors = {k for k, g in loop.gold.items() if loop.draft[k].stance != g.stance}
    out["draft_errors"] = len(errors)
    out["errors_at_queue_positions"] = [n + 1 for n, k in enumerate(loop.queue(loop.draft, set())) if k in errors]
    # a random order finds the last of e errors among n cells, on average, at e (n + 1) / (e + 1)
    out["random_expected_all_right"] = len(errors) * (len(loop.gold) + 1) / (len(errors) + 1)
    for retrain in (False, True):
        every = args.every if retrain else None
        tag = " + retrain" if retrain else ""
        queue, changed = loop.walk("queue", every, resort=args.resort)
        walks = [loop.walk("random", every, seed) for seed in range(args.seeds)]
        randoms = [c for c, _ in walks]
        if retrain:
            out["stances_changed_by_retraining"] = {"queue": changed, "random (mean)": float(np.mean([n for _, n in walks]))}
        out["curves"]["queue" + tag] = queue
        out["curves"]["random" + tag] = [float(x) for x in np.mean(randoms, axis=0)]
        out["curves"]["random" + tag + " (p10, p90)"] = [[float(x) for x in np.percentile(randoms, 10, axis=0)],
                                                         [float(x) for x in np.percentile(randoms, 90, axis=0)]]
        needed = [cells_to(c, args.target) for c in randoms]
        out["cells_to_target"]["queue" + tag] = cells_to(queue, args.target)
        out["cells_to_target"]["random" + tag] = {"median": float(np.median(needed)), "mean": float(np.mean(needed)),
                                                  "min": int(min(needed)), "max": int(max(needed))}
        needed = [cells_to(c, 1.0) for c in randoms]
        out["cells_to_all_right"]["queue" + tag] = cells_to(queue, 1.0)
        out["cells_to_all_right"]["random" + tag] = {"median": float(np.median(needed)), "mean": float(np.mean(needed)),
                                                     "min": int(min(needed)), "max": int(max(needed))}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def plot(results: list[dict], args, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 4.2), squeeze=False)
    styles = {"queue": ("#0b57a4", "-"), "random": ("#888888", "-"), "queue + retrain": ("#c62828", "--"),
              "random + retrain": ("#d98200", "--")}
    for ax, r in zip(axes[0], results):
        x = np.arange(r["cells"] + 1)
        for name, (colour, ls) in styles.items():
            ax.plot(x, r["curves"][name], ls, color=colour, lw=1.8, label=name)
        lo, hi = r["curves"]["random (p10, p90)"]
        ax.fill_between(x, lo, hi, color="#888888", alpha=0.15, lw=0)
        ax.axhline(args.target, color="#2e7d32", lw=0.8, ls=":")
        ax.set_title(f"{r['corpus']} ({r['kind']}, {r['documents']} docs, {r['cells']} cells)", fontsize=10)
        ax.set_xlabel("cells reviewed")
        low = min(min(c) if not isinstance(c[0], list) else min(c[0]) for c in r["curves"].values())
        ax.set_ylim(min(low - 0.01, 0.97), 1.003)
        ax.set_xlim(0, r["cells"])
        q = r["cells_to_target"]["queue"]
        ax.annotate(f"queue: {q} cells to ≥{args.target:g}, {r['cells_to_all_right']['queue']} to all right",
                    xy=(q, args.target), xytext=(0.3, 0.08),
                    textcoords="axes fraction", fontsize=8, arrowprops={"arrowstyle": "->", "lw": 0.7})
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("cell accuracy of the delivered table")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=8, loc="lower center", ncol=len(names), frameon=False)
    fig.suptitle(f"Simulated review: draft (lexicon, hybrid linker, {args.embedder}) corrected cell by cell; "
                 f"random = mean of {args.seeds} orders (band p10–p90); retrain every {args.every} reviews",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--every", type=int, default=10, help="retrain after every N reviews")
    ap.add_argument("--seeds", type=int, default=20, help="random orders averaged")
    ap.add_argument("--target", type=float, default=0.98)
    ap.add_argument("--embedder", default="e5-hf", help="e5-hf (default: the offline default encoder), e5-bundled, "
                                                         "or null (no embed stage, lexical linker, logreg without "
                                                         "embeddings)")
    ap.add_argument("--resort", action="store_true", help="re-sort the queue on the retrained model's scores (as "
                                                          "`stance review` of a new predict run would order it)")
    ap.add_argument("--corpora", default=",".join(c for c, _ in CORPORA))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--png", type=Path)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    kinds = dict(CORPORA)
    results = [run_corpus(name, kinds.get(name, "?"), args) for name in args.corpora.split(",")]
    print(f"| corpus | kind | cells | draft accuracy | queue | random (median, min–max) | queue + retrain "
          f"| random + retrain (median) |  (cells to review for ≥ {args.target:g}; retrain every {args.every})")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        c = r["cells_to_target"]
        print(f"| {r['corpus']} | {r['kind']} | {r['cells']} | {r['draft_accuracy']:.3f} | {c['queue']} | "
              f"{c['random']['median']:g} ({c['random']['min']}–{c['random']['max']}) | {c['queue + retrain']} | "
              f"{c['random + retrain']['median']:g} |")
    for r in results:
        q, rq = r["curves"]["queue"], r["curves"]["random"]
        at = {k: (q[k], rq[k]) for k in (5, 10, 20) if k < len(q)}
        a = r["cells_to_all_right"]
        print(f"{r['corpus']}: {r['draft_errors']} draft errors, at queue positions {r['errors_at_queue_positions']}; "
              f"cells to every error corrected: queue {a['queue']}, random median {a['random']['median']:g} "
              f"({a['random']['min']}–{a['random']['max']}; expected {r['random_expected_all_right']:.1f}), "
              f"queue + retrain {a['queue + retrain']}, random + retrain median {a['random + retrain']['median']:g}")
        print(f"{r['corpus']}: accuracy after 5/10/20 reviews, queue vs random mean: "
              + ", ".join(f"{k}: {a:.3f} vs {b:.3f}" for k, (a, b) in at.items())
              + f"; stances of unreviewed cells changed by retraining: {r['stances_changed_by_retraining']}"
              + f"  ({r['seconds']} s)")
    if args.json:
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json), "png": str(args.png)},
                                         "results": results}, indent=1) + "\n", encoding="utf-8")
    if args.png:
        plot(results, args, args.png)
        print(f"figure: {args.png}")
    return 0 if all(not math.isnan(r["draft_accuracy"]) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
