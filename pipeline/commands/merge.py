"""`stance merge <shard folders or a multirun folder…> output=<dir>`: join the output folders of
`run.shard` runs into one, as if one run had read every file."""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from ..core import outputs
from ..core.assemble import assemble, report_info
from ..core.catalog import load_catalog
from ..core.parts import Parts, exclusive
from ..errors import InputError, UserError
from ..files import write_json

log = logging.getLogger(__name__)


def merge(dirs: list[Path], out_dir: Path) -> dict:
    """Join the output folders of `run.shard` runs into one, as if one run had read every file."""
    runs = find_runs(dirs)
    units = {d: outputs.current_run(d) or d for d in runs}  # each shard's published outputs, read from one unit
    mans = [json.loads((units[d] / "manifest.json").read_text(encoding="utf-8")) for d in runs]
    keys = {m.get("run_key") for m in mans}
    if len(keys) != 1:
        raise InputError(runs[0], "these runs used different configs, encoders or models (run_key differs): "
                                  "not shards of one run")
    counts = {m["shard"]["count"] for m in mans}
    indices = sorted(m["shard"]["index"] for m in mans)
    if len(counts) != 1 or indices != list(range(counts.pop())):
        raise InputError(runs[0], f"shards {indices} of {sorted({m['shard']['count'] for m in mans})} given: need "
                                  f"each shard 0..n-1 exactly once")
    cfg = mans[0]["config"]
    catalog = load_catalog(cfg["data"]["catalog"])
    out_parts = Parts(out_dir)
    errors, doc_ids, seen = [], [], set()
    with exclusive(out_dir):
        for d in runs:
            src = Parts(d)
            errors += outputs.read_errors(units[d] / "errors.jsonl")
            for row in outputs.read_predictions(units[d] / "predictions.jsonl"):
                doc_id = row.doc_id
                if doc_ids and doc_id == doc_ids[-1]:  # the document's next proposal
                    continue
                if doc_id in seen:
                    raise InputError(d, f"document '{doc_id}' is in two shards")
                part = src.load(doc_id)
                if part is None:
                    raise InputError(src.dir, f"missing part for '{doc_id}'")
                doc_ids.append(doc_id)
                seen.add(doc_id)
                if src.dir.resolve() != out_parts.dir.resolve():
                    write_json(part, out_parts.path(doc_id))
        errors = list({json.dumps(e, sort_keys=True): e for e in errors}.values())  # run-level rows repeat per shard
        low = (cfg.get("report") or {}).get("low_confidence", 0.5)
        info = report_info(catalog, mans[0].get("encoder"), cfg.get("classifier"), mans[0].get("model"), mans[0]["run_key"])
        man = {"command": "merge", "shards": [str(d) for d in runs], "run_key": keys.pop(), "documents": 0,
               "errors": len(errors), "config": cfg, "encoder": mans[0].get("encoder"),
               "shard_manifests": [{k: m.get(k) for k in ("git", "wall_time_s", "documents", "errors", "shard")}
                                   for m in mans]}

        def write(folder: Path) -> None:  # outputs and manifest published as one unit
            man["documents"] = assemble(folder, doc_ids, out_parts, errors, catalog, info, low)
            write_json(man, folder / "manifest.json")

        outputs.publish(out_dir, write)
    log.info("merge: %d shard folders, %d documents, %d errors -> %s", len(runs), man["documents"], len(errors), out_dir)
    return man


def find_runs(dirs: list[Path]) -> list[Path]:
    """Predict run folders among `dirs`: each one itself, or the run folders below it (a multirun)."""
    runs = []
    for d in map(Path, dirs):
        if (d / "manifest.json").is_file():
            found = [d]
        elif d.is_dir():
            found = sorted({m.parent for m in d.glob("*/manifest.json")}, key=lambda p: (len(p.name), p.name))
        else:
            raise InputError(d, "no such folder")
        found = [r for r in found if json.loads((r / "manifest.json").read_text(encoding="utf-8")).get("command") == "predict"]
        if not found:
            raise InputError(d, "not a `stance predict` output folder (no manifest.json of a predict run in it or below)")
        runs += found
    return runs


def main(argv: list[str]) -> int:
    """`stance merge <shard folders or multirun folder…> output=<dir>`."""
    dirs = [a for a in argv if not a.startswith("output=") and not a.startswith("-")]
    out = [a.split("=", 1)[1] for a in argv if a.startswith("output=")]
    if not dirs or not out:
        print("usage: stance merge <shard output folders or a multirun folder…> output=<dir>", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        man = merge(dirs, Path(out[0]))
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"merged {len(man['shards'])} shard folders: {man['documents']} documents, {man['errors']} errors -> {out[0]}")
    return 0

