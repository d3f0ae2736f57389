"""Inputs of a batch run: the files under the given folders, each with a unique doc_id, a content
hash and a shard."""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..stages.ingest import SUPPORTED_SUFFIXES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InputFile:
    doc_id: str
    path: Path


def list_inputs(input_paths, exclude=None) -> tuple[list[InputFile], list[dict]]:
    """The supported files under the given folders (recursively) and files, each with a unique doc_id,
    and an error row for every other file found there (a response sent as .doc or .odt must not
    vanish silently). Hidden files and folders, files under `exclude` (the run's own output folder)
    and files given twice are skipped. A folder with no supported file at all is a run-level error."""
    if input_paths is None:
        raise InputError("input", "no input given: use input=<folder or file>")
    given = [input_paths] if isinstance(input_paths, (str, Path)) else list(input_paths)
    found: list[tuple[Path, Path]] = []  # (file, the folder it was found under)
    skipped: list[dict] = []
    for p in map(Path, given):
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and not excluded(f, exclude)
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            supported = [f for f in files if f.suffix.lower() in SUPPORTED_SUFFIXES]
            if not supported:
                raise InputError(p, f"no supported files ({', '.join(SUPPORTED_SUFFIXES)}) in this folder")
            found += [(f, p) for f in supported]
            skipped += [{"path": str(f), "doc_id": f.stem, "error": f"unsupported file type '{f.suffix or f.name}' "
                         f"(supported: {', '.join(SUPPORTED_SUFFIXES)})"} for f in files if f not in supported]
        elif p.is_file():
            found.append((p, p.parent))
        else:
            raise InputError(p, "no such file or folder")
    unique, seen = [], set()
    for f, root in found:
        if f.resolve() not in seen:
            seen.add(f.resolve())
            unique.append((f, root))
    return assign_ids(unique), skipped


def excluded(f: Path, folder) -> bool:
    return folder is not None and f.resolve().is_relative_to(Path(folder).resolve())


def assign_ids(found: list[tuple[Path, Path]]) -> list[InputFile]:
    """doc_id = the file's stem; where stems collide (svar.pdf in two folders), the path below its input
    folder (without, then with, the suffix) tells them apart. Only the colliding files change."""
    def variants(f: Path, root: Path) -> list[str]:
        rel = f.relative_to(root) if f.is_relative_to(root) else Path(f.name)
        return [f.stem, rel.with_suffix("").as_posix(), rel.as_posix(), f.as_posix()]

    final = [f.stem for f, _ in found]
    for level in range(1, 4):
        counts: dict[str, int] = {}
        for i in final:
            counts[i] = counts.get(i, 0) + 1
        clashing = [k for k, i in enumerate(final) if counts[i] > 1]
        if not clashing:
            break
        for k in clashing:
            final[k] = variants(*found[k])[level]
    renamed = [f"{f} -> {i}" for (f, _), i in zip(found, final) if i != f.stem]
    if renamed:
        log.warning("same file name in several folders; these documents get their path as id: %s", "; ".join(renamed))
    return [InputFile(i, f) for i, (f, _) in zip(final, found)]


def shard_of(doc_id: str, num_shards: int) -> int:
    """A document's shard: stable across machines, runs and the other files in the folder."""
    return int(hashlib.sha256(doc_id.encode("utf-8")).hexdigest()[:8], 16) % num_shards


def select_shard(files: list[InputFile], shard: int, num_shards: int) -> list[InputFile]:
    if not (isinstance(num_shards, int) and num_shards >= 1 and isinstance(shard, int) and 0 <= shard < num_shards):
        raise InputError("data.shard", f"needs 0 <= data.shard < data.num_shards, got shard={shard}, "
                                       f"num_shards={num_shards}")
    return [f for f in files if shard_of(f.doc_id, num_shards) == shard] if num_shards > 1 else files


def content_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
