"""`stance labels export <run dir> output=<labels.jsonl>`: the reviewed cells of a run as hand labels
(data/LABELING.md), for `stance train … 'data.extra=[{docs: <the run's input>, labels: <labels.jsonl>}]'`."""
from __future__ import annotations

import sys

from ..core.labels_export import export_labels
from ..errors import UserError

USAGE = "usage: stance labels export <run dir of stance predict> output=<labels.jsonl>"


def main(argv: list[str]) -> int:
    args = [a for a in argv if "=" not in a]
    out = [a.split("=", 1)[1] for a in argv if a.startswith("output=")]
    if len(args) != 2 or args[0] != "export" or not out or len(argv) != 3:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        n, problems = export_labels(args[1], out[0])
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    if not n:
        print(f"error: {args[1]}: no reviewed cell could be exported (see the lines above); {out[0]} not written",
              file=sys.stderr)
        return 2
    print(f"{n} labels -> {out[0]}" + (f" ({len(problems)} corrections left out)" if problems else ""))
    print(f"train on them beside the corpus: stance train name=<name> classifier=logreg "
          f"'data.extra=[{{docs: <the run's input folder>, labels: {out[0]}}}]'")
    return 0
