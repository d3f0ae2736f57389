"""Inputs of a batch run: the files under the given folders, each with a unique doc_id, a content
hash and a shard.

Nothing found under an input folder vanishes silently: every file or folder that is not read gets
an error row (and so a line in the report) saying why — an unsupported type, a hidden name, a folder
that can't be listed, a file that can't be read, a broken symlink, a symlink loop, a symlink that
leads out of the input folder (read only with `ingest.follow_symlinks=true`), a FIFO or device.
Only the run's own output folder, when it lies inside an input folder, is passed over without one.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..files import file_sha256
from ..stages.ingest import SUPPORTED_SUFFIXES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InputFile:
    doc_id: str
    path: Path


def list_inputs(input_paths, exclude=None, follow_symlinks: bool = False) -> tuple[list[InputFile], list[dict]]:
    """The supported files under the given folders (recursively) and files, each with a unique doc_id,
    and an error row for everything else found there (a response sent as .doc or .odt, a hidden file,
    a symlink out of the folder … must not vanish silently). Files under `exclude` (the run's own
    output folder) and files given twice are skipped. A folder with no supported file at all is a
    run-level error."""
    if input_paths is None:
        raise InputError("input", "no input given: use input=<folder or file>")
    given = [input_paths] if isinstance(input_paths, (str, Path)) else list(input_paths)
    found: list[tuple[Path, Path]] = []  # (file, the folder it was found under)
    skipped: list[dict] = []
    for p in map(Path, given):
        if p.is_dir():
            files, rows = walk(p, exclude, follow_symlinks)
            supported = [f for f in files if f.suffix.lower() in SUPPORTED_SUFFIXES]
            if not supported:
                raise InputError(p, f"no supported files ({', '.join(SUPPORTED_SUFFIXES)}) in this folder")
            found += [(f, p) for f in supported]
            skipped += rows + [skip_row(f, f"unsupported file type '{f.suffix or f.name}' (supported: "
                                           f"{', '.join(SUPPORTED_SUFFIXES)})") for f in files if f not in supported]
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


def skip_row(path: Path, problem: str) -> dict:
    return {"path": str(path), "doc_id": path.stem, "error": problem}


def walk(root: Path, exclude=None, follow_symlinks: bool = False) -> tuple[list[Path], list[dict]]:
    """(the regular files under `root`, an error row for each entry that is not read)."""
    real_root = root.resolve()
    files: list[Path] = []
    rows: list[dict] = []
    seen = {real_root}  # real paths of the folders walked
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            rows.append(skip_row(folder, f"folder cannot be read ({type(e).__name__}: {e.strerror}): its files were "
                                         f"not read"))
            continue
        for entry in entries:
            path = Path(entry.path)
            if excluded(path, exclude):
                continue
            if entry.name.startswith("."):
                kind = "folder" if entry.is_dir(follow_symlinks=False) else "file"
                rows.append(skip_row(path, f"hidden {kind} (its name starts with '.'): not read; rename it to "
                                           f"include it"))
                continue
            target, problem = _target(path, real_root, follow_symlinks) if entry.is_symlink() else (path, None)
            if problem:
                rows.append(skip_row(path, problem))
            elif target.is_dir():
                real = target.resolve()
                if real not in seen:
                    seen.add(real)
                    stack.append(path)
            elif target.is_file():
                files.append(path)
            else:
                rows.append(skip_row(path, "not a regular file (a FIFO, socket or device): not read"))
    return sorted(files), rows


def _target(link: Path, real_root: Path, follow: bool) -> tuple[Path, str | None]:
    """(where a symlink found in an input folder leads, or why it is not followed)."""
    try:
        target = link.resolve(strict=True)
    except FileNotFoundError:
        return link, f"broken symlink (to {os.readlink(link)}, which does not exist): not read"
    except (OSError, RuntimeError):  # ELOOP (RuntimeError before Python 3.13)
        return link, "symlink loop: not read"
    if target.is_dir() and link.parent.resolve().is_relative_to(target):
        return link, f"symlink loop (to {target}, a folder it lies in): not read"
    if not follow and not target.is_relative_to(real_root):
        return link, (f"symlink to {target}, outside the input folder: not read (ingest.follow_symlinks=true "
                      f"reads it)")
    return target, None


def hash_inputs(files: list[InputFile]) -> tuple[dict[str, str], list[dict]]:
    """({doc_id: content hash}, an error row for each file that cannot be read): one unreadable file must
    not stop the batch."""
    hashes, rows = {}, []
    for f in files:
        try:
            hashes[f.doc_id] = file_sha256(f.path)
        except OSError as e:
            rows.append({"path": str(f.path), "doc_id": f.doc_id,
                         "error": f"cannot be read ({type(e).__name__}: {e.strerror or e})"})
    return hashes, rows


def check_output(input_paths, out_dir) -> None:
    """The output folder may lie inside an input folder (it is skipped there), not be one or hold one:
    the outputs would mix with the documents, or the documents be skipped as outputs."""
    if input_paths is None or out_dir is None:
        return
    out = Path(out_dir).resolve()
    for p in ([input_paths] if isinstance(input_paths, (str, Path)) else list(input_paths)):
        p = Path(p)
        if p.is_dir() and p.resolve().is_relative_to(out):
            what = "is the input folder" if p.resolve() == out else f"holds the input folder {p}"
            raise InputError("output", f"{out_dir} {what}: the outputs would mix with the documents; choose "
                                       f"another output folder")


def excluded(f: Path, folder) -> bool:
    """Whether `f` lies in `folder` (realpath: unlike Path.resolve before Python 3.13, no error on a loop)."""
    return folder is not None and Path(os.path.realpath(f)).is_relative_to(Path(os.path.realpath(folder)))


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
