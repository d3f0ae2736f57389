"""Files the tool reads and writes, made safe once for every caller.

- Atomic writes: a killed run never leaves half a file (temp file beside it, then rename).
- Bounded reads: a YAML or JSON file from elsewhere (a catalog, labels, a config, an artifact) is
  read with limits on its size and on what its aliases expand to, so a few hundred bytes of
  nested anchors (a "billion laughs" bomb) is one line, not gigabytes of memory.
- Spreadsheet-safe CSV: a text cell that a spreadsheet would run as a formula is neutralised.
- One content hash of a file (inputs, catalogs, the bundled model file), read in chunks.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import yaml

from .errors import InputError

MAX_YAML_BYTES = 5_000_000  # a catalog is a few kB, a config less
# Nodes a YAML document may expand to, aliases followed (a scalar counts one per 100 characters):
# a catalog of 1,000 proposals is ~10,000; a bomb of 9 nested lists of 9 is 387 million.
MAX_YAML_NODES = 200_000
MAX_JSON_BYTES = 200_000_000  # a labels file of 100,000 labelled cells is ~50 MB


def file_sha256(path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks (model files run to hundreds of MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextmanager
def atomic_path(path):
    """A temp file beside `path` to write to; renamed onto `path` only when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")


def write_json(data: dict, path) -> Path:
    atomic_write(path, json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    return Path(path)


# ------------------------------------------------------------------------------------ bounded reads


def read_text(path, max_bytes: int, where=None) -> str:
    """A UTF-8 file's text, refused (InputError) above `max_bytes`; OSError and UnicodeDecodeError pass."""
    path = Path(path)
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(where or path, f"too large ({size:,} bytes; the limit for this file is {max_bytes:,})")
    return path.read_text(encoding="utf-8")


def load_yaml(path, where=None, max_bytes: int = MAX_YAML_BYTES, max_nodes: int = MAX_YAML_NODES):
    """`yaml.safe_load` of a file within limits (size, alias expansion); yaml.YAMLError, OSError and
    UnicodeDecodeError pass to the caller, who names the file."""
    return parse_yaml(read_text(path, max_bytes, where), where or path, max_nodes)


def parse_yaml(text: str, where, max_nodes: int = MAX_YAML_NODES):
    """`yaml.safe_load(text)`, refused in one line when its aliases expand past `max_nodes` or refer to
    themselves. The node graph is composed first (aliases share their node, so this is cheap) and
    measured before any Python object is built."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, where, max_nodes)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node, where, max_nodes: int) -> None:
    size: dict[int, int] = {}  # id(node) -> expanded size
    active: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in _children(node))
            if size[key] > max_nodes:
                raise InputError(where, f"YAML expands to more than {max_nodes:,} nodes through its aliases "
                                        f"(&anchor / *alias): refused")
            continue
        if key in size:
            continue
        if key in active:
            raise InputError(where, "YAML alias refers to itself (a recursive structure): refused")
        if isinstance(node, yaml.ScalarNode):
            size[key] = 1 + len(node.value) // 100
            continue
        active.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in active:
                raise InputError(where, "YAML alias refers to itself (a recursive structure): refused")
            if id(child) not in size:
                stack.append((child, False))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def loads_json(text: str):
    """json.loads that turns absurd nesting (RecursionError) into json.JSONDecodeError like any bad JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text[:0], 0) from None


# ------------------------------------------------------------------------------------ spreadsheet-safe CSV

# OWASP, CSV injection: a cell starting with one of these is read as a formula by Excel, LibreOffice
# and Google Sheets. Such a text cell gets a leading ' (which spreadsheets show as text, not as data).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def spreadsheet_safe(value):
    """`value` as a CSV cell that no spreadsheet runs: text beginning with = + - @ tab or CR is prefixed
    with ' (OWASP's advice). Numbers, text that is exactly a number ("-0.25") and the placeholder "-"
    stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and value != "-" and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_text(rows: Iterable[Iterable]) -> str:
    """CSV of `rows` (header included), every cell through `spreadsheet_safe`; None is an empty cell."""
    buf = io.StringIO()
    w = csv.writer(buf)
    for row in rows:
        w.writerow(["" if v is None else spreadsheet_safe(v) for v in row])
    return buf.getvalue()
