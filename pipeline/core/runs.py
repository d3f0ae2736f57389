"""Run folders of `stance evaluate` (one, or a multirun of them), read back for comparing: their config,
manifest and predictions scored again against the hand labels they were scored on."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import InputError
from ..evaluation import Scorer
from ..evaluation.bootstrap import METRICS, Cells, score_cells
from ..files import MAX_JSON_BYTES, load_yaml, loads_json, read_text
from .catalog import load_catalog, load_labels
from .outputs import read_predictions
from .provenance import HASH_EXCLUDES

# Config keys that differ between runs without saying anything about the method: where and how a run
# went (as the config hash leaves them out), what it was called and which command ran.
IGNORED_KEYS = {"command", "input", "name", "optimized_metric", *HASH_EXCLUDES}
IGNORED_PREFIXES = tuple(f"{k}." for k in HASH_EXCLUDES) + ("hydra.",)
# Hydra overrides that only place or start a run: left out of a run's label.
LABEL_SKIP = ("command=", "output=", "hydra.", "+hydra.")
MISSING = object()


@dataclass
class Run:
    path: Path
    label: str
    status: str = "ok"  # or "failed"
    error: str | None = None
    metrics: dict = field(default_factory=dict)
    manifest: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    cells: Cells | None = None
    scores: dict = field(default_factory=dict)  # recomputed point estimates, metric -> float (nan: undefined)
    ci: tuple[float, float] = (math.nan, math.nan)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _natural_key(path: Path) -> list:
    """Sort 2/ before 10/: Hydra numbers jobs without padding."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def _is_run_dir(path: Path) -> bool:
    markers = ("metrics.json", "failed.json", "predictions.jsonl", "manifest.json")
    return any((path / m).is_file() for m in markers) or (
        (path / ".hydra").is_dir() and not (path / "multirun.yaml").is_file()
    )


def find_runs(paths) -> tuple[list[Path], list[Path]]:
    """(run dirs, multirun dirs) for the dirs given: each is a run itself, or runs are searched below it."""
    runs: list[Path] = []
    multiruns: list[Path] = []
    for given in map(Path, paths):
        if not given.is_dir():
            raise InputError(given, "no such directory")
        if _is_run_dir(given):
            found = [given]
        else:
            below = {p.parent for m in ("metrics.json", "failed.json", "predictions.jsonl") for p in given.rglob(m)}
            below |= {p.parent for p in given.rglob(".hydra") if p.is_dir()}
            found = sorted(below, key=_natural_key)
            if not found:
                raise InputError(given, "not a run directory and no runs below it (no metrics.json or failed.json)")
            multiruns.append(given)
        runs += [r.resolve() for r in found if r.resolve() not in runs]
    return runs, multiruns


def _read_json(path: Path) -> dict:
    try:
        data = loads_json(read_text(path, MAX_JSON_BYTES))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(path, f"cannot read ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise InputError(path, "expected a JSON object")
    return data


def _read_yaml(path: Path):
    try:
        return load_yaml(path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def run_label(path: Path, overrides=None) -> str:
    """The Hydra overrides that made the run (what a reader set), else the directory name."""
    if overrides is None:
        overrides = _read_yaml(path / ".hydra" / "overrides.yaml")
    shown = []
    for o in overrides if isinstance(overrides, list) else []:
        o = str(o)
        if o.startswith(LABEL_SKIP):
            continue
        if o.startswith("~"):  # the CLI spells `embedder=null` as Hydra's `~embedder`
            o = f"{o[1:].split('=', 1)[0]}=null"
        shown.append(o)
    return " ".join(shown) or path.name


def _run_config(path: Path, metrics: dict, manifest: dict) -> dict:
    """The run's effective config: metrics.json holds it after a model artifact was applied."""
    for candidate in (metrics.get("config"), manifest.get("config"), _read_yaml(path / "config.yaml"),
                      _read_yaml(path / ".hydra" / "config.yaml")):
        if isinstance(candidate, dict):
            return candidate
    raise InputError(path, "no config in metrics.json, manifest.json or .hydra/config.yaml")


def load_run(path: Path, gold_cache: dict | None = None) -> Run:
    """Read one run dir; a failed or unfinished job becomes a failed Run, a run that cannot be scored an error."""
    gold_cache = {} if gold_cache is None else gold_cache
    if (path / "failed.json").is_file() and not (path / "metrics.json").is_file():
        failed = _read_json(path / "failed.json")
        overrides = None if (path / ".hydra" / "overrides.yaml").is_file() else failed.get("overrides")
        error = " ".join(str(failed.get("error") or "failed (no message)").split())  # one line in the table
        return Run(path, run_label(path, overrides), status="failed", error=error)
    if not (path / "metrics.json").is_file():
        if (path / "predictions.jsonl").is_file():
            raise InputError(path, "a `stance predict` run (no metrics.json): only `stance evaluate` runs "
                               "can be scored")
        if (path / ".hydra").is_dir():
            return Run(path, run_label(path), status="failed",
                       error="no metrics.json or failed.json (still running, or killed)")
        raise InputError(path, "not a run directory (no metrics.json or failed.json)")
    metrics = _read_json(path / "metrics.json")
    manifest = _read_json(path / "manifest.json") if (path / "manifest.json").is_file() else metrics.get("manifest") or {}
    if not manifest and (path / "model.json").is_file():  # a models/<name>/ artifact: its encoder is in model.json
        manifest = {"encoder": _read_json(path / "model.json").get("encoder")}
    predictions = next((p for p in (path / "predictions.jsonl", path / "cv_predictions.jsonl") if p.is_file()), None)
    if predictions is None:
        raise InputError(path, "metrics.json but no predictions.jsonl (a `stance train` run? compare "
                           "models/<name>/ instead): per-cell predictions are needed")
    config = _run_config(path, metrics, manifest)
    gold = _gold(config, path, gold_cache)
    rows = {(p.doc_id, p.proposal_id): p for p in read_predictions(predictions)}
    cells = Scorer.from_config(config.get("evaluation")).cells(gold, rows)
    run = Run(path, run_label(path), metrics=metrics, manifest=manifest, config=config, cells=cells)
    run.scores = {m: score_cells(cells, m) for m in METRICS}
    return run


def _gold(config: dict, path: Path, cache: dict) -> list:
    """The hand labels the run was scored against (read once per labels file)."""
    data = config.get("data") or {}
    if not data.get("labels") or not data.get("catalog"):
        raise InputError(path, "its config names no data.labels / data.catalog to score against")
    key = (str(data["catalog"]), str(data["labels"]))
    if key not in cache:
        try:
            cache[key] = load_labels(data["labels"], load_catalog(data["catalog"]))
        except InputError as e:
            raise InputError(e.where, f"{e.problem} (the labels of run {path})") from None
    return cache[key]


def flatten(config, prefix: str = "") -> dict:
    """Dotted keys; a top-level group also gets its own key (its name or class) so a swap shows once."""
    out = {}
    for key, value in (config or {}).items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            if not prefix:
                out[dotted] = _group_choice(value)
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _group_choice(group: dict) -> str:
    if group.get("name") is not None:
        return str(group["name"])
    if group.get("_target_"):
        target = str(group["_target_"])
        # a registered name (rules.v1) as it stands; a module path (older runs) by its class
        return target if re.fullmatch(r"[\w-]+\.v\d+", target) else target.rsplit(".", 1)[-1]
    return "{…}"


def _ignored(key: str) -> bool:
    return key in IGNORED_KEYS or key.startswith(IGNORED_PREFIXES)


def _same(values) -> bool:
    def norm(v):
        if isinstance(v, bool) or v is None or v is MISSING:
            return repr(v)
        if isinstance(v, (int, float)):
            return repr(float(v))  # 2 (an override) and 2.0 (YAML) are the same setting
        return json.dumps(v, sort_keys=True, default=str)

    return len({norm(v) for v in values}) <= 1


def differing_keys(configs: list[dict]) -> tuple[list[str], list[str]]:
    """(keys to show, keys only some runs have), in config order.

    Shown: a key whose value differs among the runs that have it, and a top-level group that was
    swapped or removed (`~embedder`). A key that some runs lack but that is equal wherever present
    comes from another code version or is implied by a group swap (hybrid-only linker keys): it
    would only add noise, so it is named in a note instead (unless its group's column explains it).
    """
    flats = [flatten(c) for c in configs]
    groups = {k for c in configs for k, v in (c or {}).items() if isinstance(v, dict)}
    shown, partial = [], []
    for key in dict.fromkeys(k for f in flats for k in f):
        values = [f.get(key, MISSING) for f in flats]
        if _ignored(key) or _same(values):
            continue
        if key in groups or not _same([v for v in values if v is not MISSING]):
            shown.append(key)
        else:
            partial.append(key)
    shown_groups = {k for k in shown if k in groups}
    shown = [k for k in shown if not _names_group(k, shown_groups)  # the group's column already says it
             and not _explained_by_group(k, shown_groups, flats)]
    partial = [k for k in partial if k.partition(".")[0] not in shown_groups]
    return shown, partial


def _explained_by_group(key: str, groups, flats: list[dict]) -> bool:
    """A key of a swapped group (embedder.max_length when embedder is e5-bundled in one run and kb-sbert in
    another) that is the same among the runs with the same choice of that group: the swap explains it."""
    group = key.partition(".")[0]
    if group not in groups or "." not in key:
        return False
    by_choice: dict[str, list] = {}
    for f in flats:
        by_choice.setdefault(json.dumps(f.get(group, None), default=str), []).append(f.get(key, MISSING))
    return all(_same(values) for values in by_choice.values())


def _names_group(key: str, groups) -> bool:
    group, _, leaf = key.partition(".")
    return group in groups and leaf in ("name", "_target_")


def config_value(config: dict, key: str) -> str:
    """A config value as shown: a group removed with `~group` reads null, a key the run lacks '-'."""
    value = flatten(config).get(key, MISSING)
    if value is MISSING:
        return "null" if "." not in key else "-"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"{value:g}"  # 2 and 2.0 are one setting
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
