"""`stance agreement <labels A> <labels B> [--html PAGE] [--json FILE] [--catalog proposals.yaml] [--boot N]
[--seed S]`: how far two annotators (or an analyst and the corpus) agree, cell by cell."""
from __future__ import annotations

import argparse
import sys

from ..core.catalog import load_catalog, load_labels
from ..errors import UserError
from ..evaluation.agreement import AXES, agreement
from ..evaluation.bootstrap import N_BOOT, SEED
from ..files import write_json
from ..report.agreement import AXIS_TITLE, write_agreement


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="stance agreement", description="Cohen's κ of two label files "
                                 "(stance, basis, addressed-vs-none) with bootstrap 95%% CIs over documents")
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--html", help="write the agreement page here")
    ap.add_argument("--json", help="write the numbers here")
    ap.add_argument("--catalog", help="check proposal ids against this proposals.yaml")
    ap.add_argument("--boot", type=int, default=N_BOOT)
    ap.add_argument("--seed", type=int, default=SEED)
    return ap


def _num(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def summary(result: dict, name_a: str, name_b: str) -> str:
    lines = [f"A: {name_a}", f"B: {name_b}",
             f"{result['n_cells']} cells labelled by both in {result['n_documents']} documents "
             f"(only in A: {result['only_in_a']}, only in B: {result['only_in_b']})", "",
             "| axis | cells | observed | Cohen's κ | 95% CI (bootstrap over documents) |", "|---|---|---|---|---|"]
    for ax in AXES:
        a = result["axes"][ax]
        lines.append(f"| {AXIS_TITLE[ax]} | {a['cells']} | {_num(a['observed'])} | {_num(a['kappa'])} | "
                     f"{_num(a['ci95'][0])} – {_num(a['ci95'][1])} |")
    a = result["axes"]["stance"]
    width = max(len(c) for c in a["categories"]) + 2
    lines += ["", "stance confusion (rows A, columns B):", " " * width + "".join(f"{c:>{width}}" for c in a["categories"])]
    lines += [f"{c:<{width}}" + "".join(f"{v:>{width}}" for v in row) for c, row in zip(a["categories"], a["confusion"])]
    dis = result["disagreements"]
    lines += ["", f"cells they disagree on: {len(dis)}"]
    lines += [f"  {d['doc_id']} / {d['proposal_id']}: A {d['a']['stance']} {d['a']['basis'] or ''}".rstrip()
              + f" — B {d['b']['stance']} {d['b']['basis'] or ''}".rstrip() for d in dis]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0) if isinstance(e.code, int) else 2
    try:
        catalog = load_catalog(args.catalog) if args.catalog else None
        result = agreement(load_labels(args.a, catalog), load_labels(args.b, catalog), args.boot, args.seed).to_json()
        if result["n_cells"] == 0:
            raise UserError(args.b, f"no cell in common with {args.a} (same doc_id and proposal_id)")
        if args.html:
            write_agreement(result, args.a, args.b, args.html)
        if args.json:
            write_json(result, args.json)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary(result, args.a, args.b))
    if args.html:
        print(f"\nwritten: {args.html}")
    return 0
