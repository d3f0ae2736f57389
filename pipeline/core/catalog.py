"""Loaders for proposal catalogs and hand labels: the two files a new SOU brings besides its documents."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from ..errors import InputError
from ..files import MAX_JSON_BYTES, load_yaml, loads_json, read_text
from ..records import BASES, STANCES, Catalog, Label, Proposal

REQUIRED_PROPOSAL_FIELDS = ("id", "title", "summary")


def load_catalog(path) -> Catalog:
    """Read a `proposals.yaml`; any schema problem is an InputError naming the file."""
    path = Path(path)
    try:
        doc = load_yaml(path)
    except FileNotFoundError:
        raise InputError(path, "catalog file not found") from None
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise InputError(path, f"not valid YAML ({type(e).__name__})") from None
    except OSError as e:
        raise InputError(path, f"cannot read ({type(e).__name__})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("proposals"), list) or not doc["proposals"]:
        raise InputError(path, "catalog needs a non-empty 'proposals' list")
    proposals, seen = [], set()
    for i, p in enumerate(doc["proposals"], 1):
        if not isinstance(p, dict):
            raise InputError(path, f"proposal #{i} is not a mapping")
        missing = [f for f in REQUIRED_PROPOSAL_FIELDS if not str(p.get(f) or "").strip()]
        if missing:
            raise InputError(path, f"proposal #{i} ({p.get('id', '?')}) lacks field(s): {', '.join(missing)}")
        pid = str(p["id"])
        if pid in seen:
            raise InputError(path, f"duplicate proposal id '{pid}'")
        seen.add(pid)
        section = p.get("section")
        aliases = p.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
            raise InputError(path, f"proposal #{i} ({pid}): 'aliases' must be a list of non-empty strings")
        proposals.append(
            Proposal(
                id=pid,
                title=str(p["title"]).strip(),
                summary=str(p["summary"]).strip(),
                section=None if section is None else str(section),
                kind=str(p.get("kind") or "forslag"),
                english=str(p.get("english") or ""),
                aliases=tuple(a.strip() for a in aliases),
            )
        )
    return Catalog(sou=str(doc.get("sou", "")), title=str(doc.get("title", "")), proposals=tuple(proposals), path=str(path))


def load_labels(path, catalog: Catalog | None, doc_ids=None) -> list[Label]:
    """Read `stance.jsonl`, validated against the catalog (None: any proposal id) and the documents when
    `doc_ids` is given.

    Errors name the file and line: hand labels are ground truth, so a wrong one must never pass silently.
    """
    path = Path(path)
    try:
        lines = read_text(path, MAX_JSON_BYTES).splitlines()
    except FileNotFoundError:
        raise InputError(path, "labels file not found") from None
    except UnicodeDecodeError:
        raise InputError(path, "labels file is not UTF-8") from None
    except OSError as e:
        raise InputError(path, f"cannot read ({type(e).__name__})") from None
    known = set(catalog.ids) if catalog is not None else None
    docs = set(doc_ids) if doc_ids is not None else None
    labels, seen = [], set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"line {n}"
        try:
            row = loads_json(line)
        except json.JSONDecodeError as e:
            raise InputError(path, f"{where}: not valid JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise InputError(path, f"{where}: expected a JSON object")
        for key in ("doc_id", "proposal_id", "stance"):
            if not isinstance(row.get(key), str):
                raise InputError(path, f"{where}: missing or non-string '{key}'")
        if known is not None and row["proposal_id"] not in known:
            raise InputError(path, f"{where}: unknown proposal id '{row['proposal_id']}' (not in {catalog.path or 'catalog'})")
        if docs is not None and row["doc_id"] not in docs:
            raise InputError(path, f"{where}: unknown doc_id '{row['doc_id']}' (no such document)")
        if row["stance"] not in STANCES:
            raise InputError(path, f"{where}: unknown stance '{row['stance']}' (expected one of {', '.join(STANCES)})")
        basis = row.get("basis")
        if row["stance"] == "none":
            if basis is not None:
                raise InputError(path, f"{where}: stance 'none' must have basis null, got '{basis}'")
        elif basis not in BASES:
            raise InputError(path, f"{where}: unknown basis '{basis}' (expected explicit or general)")
        key = (row["doc_id"], row["proposal_id"])
        if key in seen:
            raise InputError(path, f"{where}: duplicate label for {key[0]} / {key[1]}")
        seen.add(key)
        evidence = row.get("evidence") or []
        if not isinstance(evidence, list) or not all(isinstance(e, str) for e in evidence):
            raise InputError(path, f"{where}: 'evidence' must be a list of strings")
        labels.append(
            Label(
                doc_id=row["doc_id"],
                proposal_id=row["proposal_id"],
                stance=row["stance"],
                basis=basis,
                confidence=str(row.get("confidence") or "high"),
                evidence=tuple(evidence),
                note=str(row.get("note") or ""),
            )
        )
    if not labels:
        raise InputError(path, "no labels in file")
    return labels
