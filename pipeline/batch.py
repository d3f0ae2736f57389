"""Batch inference: folders of remissvar in, the output contract and a remissammanställning out.

A run streams. Files are hashed in this process, read and segmented in worker processes, then
embedded and classified in batches of about `batch_sentences` sentences across documents. Each
finished document is written at once, atomically, to `output/parts/`, keyed by its content hash and
the run key (config, encoder actually used, model, catalog): a run killed at any point loses nothing
finished, and a rerun skips what is done. The outputs are assembled from the parts at the end, in
doc_id order, so an uninterrupted run, a resumed one and merged shards write the same files.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
from collections import deque
from itertools import islice
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from . import outputs
from .ingest import SUPPORTED_SUFFIXES
from .records import DocResult, Evidence, InputError, Prediction, Sentence
from .run import Timer

log = logging.getLogger(__name__)
PART_FORMAT = 1


# ------------------------------------------------------------------------------------ inputs


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
            files = sorted(f for f in p.rglob("*") if f.is_file() and not _excluded(f, exclude)
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


def _excluded(f: Path, folder) -> bool:
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


# ------------------------------------------------------------------------------------ ingest + segment


def prepare(file: InputFile, reader, segmenter, sha: str = "", timer=None) -> DocResult:
    """Read and segment one file; InputError when it can't give sentences."""
    timer = timer or Timer()
    with timer("ingest"):
        doc = reader.read(file.path, doc_id=file.doc_id)
    with timer("segment"):
        sents = segmenter.segment(doc)
    if not any(not s.is_heading for s in sents):
        raise InputError(file.path, "no sentences found")
    return DocResult(file.doc_id, str(file.path), sha, sents, [], doc.encoding, list(doc.warnings))


def error_row(file: InputFile, e: InputError) -> dict:
    return {"path": str(file.path), "doc_id": file.doc_id, "error": e.problem}


_WORKER: dict = {}


def _worker_init(reader_cfg: dict, segmenter_cfg: dict) -> None:
    _WORKER["reader"] = instantiate(reader_cfg)
    _WORKER["segmenter"] = instantiate(segmenter_cfg)


def _worker_prepare(file: InputFile, sha: str) -> tuple[DocResult | dict, dict]:
    """(DocResult or error row, seconds spent per stage)."""
    clock = Timer()
    try:
        return prepare(file, _WORKER["reader"], _WORKER["segmenter"], sha, clock), clock.stages
    except InputError as e:
        return error_row(file, e), clock.stages
    except Exception as e:  # noqa: BLE001 - a parser crash on one file must not end the run
        return error_row(file, InputError(file.path, f"could not be read ({type(e).__name__}: {str(e)[:100]})")), clock.stages


def prepared(todo: list[tuple[InputFile, str]], reader_cfg: dict, segmenter_cfg: dict, workers: int):
    """DocResults (or error rows) for `todo`, in order. With workers > 0, read and segmented in that many
    processes, at most 4 files per worker in flight, so memory stays bounded however long the list."""
    if workers <= 0:
        _worker_init(reader_cfg, segmenter_cfg)
        for file, sha in todo:
            yield _worker_prepare(file, sha)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the main process holds torch's thread pools, which do not survive a fork.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init,
                             initargs=(reader_cfg, segmenter_cfg)) as pool:
        items = iter(todo)
        pending = deque(pool.submit(_worker_prepare, *item) for item in islice(items, 4 * workers))
        while pending:
            result = pending.popleft().result()
            pending.extend(pool.submit(_worker_prepare, *item) for item in islice(items, 1))
            yield result


def resolve_workers(setting, n_files: int) -> int:
    """`auto`: one worker per core from 64 files; below that, starting the processes (~0.5 s) costs more
    than it saves (benchmarks/batch.py: reading and segmenting takes 2-8 ms a file)."""
    if setting in (None, "auto"):
        from .embed import available_cores

        return available_cores() if n_files >= 64 else 0
    return max(0, int(setting))


# ------------------------------------------------------------------------------------ parts


class Parts:
    """Finished documents of a run folder, one JSON file each, written atomically."""

    def __init__(self, out_dir):
        self.dir = Path(out_dir) / "parts"

    def path(self, doc_id: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", doc_id)[:80]
        return self.dir / f"{slug}-{hashlib.sha1(doc_id.encode('utf-8')).hexdigest()[:10]}.json"

    def clean(self) -> None:
        """Temp files left by a killed run."""
        if self.dir.is_dir():
            for p in self.dir.glob(".*.tmp"):
                p.unlink(missing_ok=True)

    def load(self, doc_id: str) -> dict | None:
        p = self.path(doc_id)
        try:
            part = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return part if part.get("format") == PART_FORMAT and part.get("doc_id") == doc_id else None

    def is_done(self, doc_id: str, sha: str, key: str) -> bool:
        part = self.load(doc_id)
        return part is not None and part.get("content_sha256") == sha and part.get("run_key") == key

    def save(self, result: DocResult, key: str) -> None:
        outputs.write_json({"format": PART_FORMAT, "run_key": key, **to_json(result)}, self.path(result.doc_id))


def to_json(r: DocResult) -> dict:
    return {"doc_id": r.doc_id, "path": r.path, "content_sha256": r.content_sha256, "encoding": r.encoding,
            "warnings": r.warnings, "sentences": [asdict(s) for s in r.sentences],
            "predictions": [p.to_json() for p in r.predictions]}


def from_json(d: dict) -> DocResult:
    sents = [Sentence(**{**s, "headings": tuple(s["headings"]), "sections": tuple(s["sections"])}) for s in d["sentences"]]
    preds = [Prediction(p["doc_id"], p["proposal_id"], p["stance"], p["score"], p["basis"],
                        [Evidence(**e) for e in p["evidence"]]) for p in d["predictions"]]
    return DocResult(d["doc_id"], d["path"], d["content_sha256"], sents, preds, d.get("encoding", "utf-8"),
                     list(d.get("warnings") or []))


@contextmanager
def exclusive(out_dir: Path):
    """One run at a time per output folder: two would interleave their parts and outputs."""
    import fcntl

    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / ".lock", "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(out_dir, "another run is writing to this output folder") from None
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------------ the run


def run_key(cfg: DictConfig, encoder_info: dict | None, catalog_sha: str, model: dict | None) -> str:
    """What a document's result depends on besides its content: change any of it and it is recomputed."""
    from importlib import metadata

    spec = {
        "stages": {g: OmegaConf.to_container(cfg[g], resolve=True) if cfg.get(g) is not None else None
                   for g in ("ingest", "segmenter", "linker", "classifier")},
        "encoder": {k: v for k, v in (encoder_info or {}).items() if k not in ("fallback_reason",)} or None,
        "catalog": catalog_sha,
        "model": model,
        "code": metadata.version("remiss-stance"),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def predict(cfg: DictConfig, out_dir: Path) -> dict:
    from . import run
    from .data import load_catalog

    timer = run.Timer()
    artifact, cfg = run._load_model(cfg)
    catalog = load_catalog(cfg.data.catalog)
    files, errors = list_inputs(cfg.input, exclude=out_dir)
    n_all = len(files)
    shard, num_shards = cfg.data.get("shard", 0), cfg.data.get("num_shards", 1)
    files = select_shard(files, shard, num_shards)
    with exclusive(out_dir):
        with timer("hash"):
            hashes = {f.doc_id: content_hash(f.path) for f in files}
        encoder = None
        if cfg.get("embedder") is not None:
            from .embed import load_encoder

            with timer("load_encoder"):
                encoder = load_encoder(cfg.embedder, cache_dir=cfg.paths.cache_dir)
        encoder_info = run._info(encoder) if encoder is not None else None
        classifier = artifact.build_classifier() if artifact is not None else run.build_classifier(cfg)
        run.check_classifier(classifier, encoder)
        if artifact is not None:
            from .train import check_encoder

            check_encoder(artifact, encoder_info)
        model = run._model_info(artifact)
        key = run_key(cfg, encoder_info, content_hash(Path(cfg.data.catalog)), model)
        parts = Parts(out_dir)
        parts.clean()
        todo = [(f, hashes[f.doc_id]) for f in files if cfg.force or not parts.is_done(f.doc_id, hashes[f.doc_id], key)]
        if len(todo) < len(files):
            log.info("resuming: %d of %d documents already done in %s (force=true recomputes them)",
                     len(files) - len(todo), len(files), parts.dir)
        workers = resolve_workers(cfg.get("workers"), len(todo))
        stats = _stream(cfg, catalog, todo, classifier, encoder, parts, key, workers, errors, timer)
        with timer("assemble"):
            run_info = report_info(catalog, encoder_info, OmegaConf.to_container(cfg.classifier, resolve=True), model, key)
            failed = {e["path"] for e in errors}
            done = assemble(out_dir, [f.doc_id for f in files if str(f.path) not in failed], parts, errors, catalog,
                            run_info, cfg.evaluation.low_confidence)
        man = run.manifest(cfg, timer, _embed_stats(encoder, stats), {
            "documents": done, "errors": len(errors), "skipped_done": len(files) - len(todo),
            "processed": stats["documents"], "inputs": n_all, "sentences_processed": stats["sentences"],
            "workers": workers, "worker_seconds": stats["worker_seconds"] or None, "shard": {"index": shard, "count": num_shards},
            "run_key": key, "model": model,
            "data_hash": hashlib.sha256(json.dumps(sorted(hashes.items())).encode()).hexdigest()[:16],
        })
        outputs.write_json(man, out_dir / "manifest.json")
    log.info("predict: %d documents (%d skipped as done), %d errors -> %s", done, len(files) - len(todo),
             len(errors), out_dir)
    return man


def _stream(cfg, catalog, todo, classifier, encoder, parts: Parts, key, workers, errors, timer) -> dict:
    """Read, segment, embed and classify `todo`, saving each document's part as soon as it is done."""
    from .run import embedding_text

    reader_cfg = OmegaConf.to_container(cfg.ingest, resolve=True)
    segmenter_cfg = OmegaConf.to_container(cfg.segmenter, resolve=True)
    proposal_vecs = None
    if encoder is not None and getattr(classifier, "uses_embeddings", False):
        with timer("embed"):
            proposal_vecs = encoder.encode([f"{p.title}. {p.summary}" for p in catalog.proposals], role="proposal")
    worker_seconds: dict[str, float] = {}
    stats = {"documents": 0, "sentences": 0, "worker_seconds": worker_seconds}
    bar = _progress(cfg, len(todo))

    def flush(batch: list[DocResult]) -> None:
        if not batch:
            return
        vectors = None
        if proposal_vecs is not None:
            with timer("embed"):
                vectors = encoder.encode([embedding_text(s) for r in batch for s in r.sentences], role="sentence")
        i = 0
        for r in batch:
            with timer("classify"):
                kwargs = {}
                if vectors is not None:
                    kwargs = {"sentence_vectors": vectors[i : i + len(r.sentences)], "proposal_vectors": proposal_vecs}
                i += len(r.sentences)
                r.predictions = classifier.predict(r.sentences, catalog, **kwargs)
            parts.save(r, key)
            stats["documents"] += 1
            stats["sentences"] += len(r.sentences)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(sentences=stats["sentences"], refresh=False)

    batch: list[DocResult] = []
    size = 0
    it = prepared(todo, reader_cfg, segmenter_cfg, workers)
    while True:
        with timer("read_segment_wait"):
            item = next(it, None)
        if item is None:
            break
        result, seconds = item
        for stage, t in seconds.items():  # in workers: seconds summed over them, beside the wall times
            stages = worker_seconds if workers > 0 else timer.stages
            stages[stage] = round(stages.get(stage, 0.0) + t, 3)
        if isinstance(result, dict):
            log.error("%s: %s", result["path"], result["error"])
            errors.append(result)
            if bar is not None:
                bar.update(1)
            continue
        for w in result.warnings:
            log.warning("%s", w)
        batch.append(result)
        size += len(result.sentences)
        if size >= cfg.batch_sentences:
            flush(batch)
            batch, size = [], 0
    flush(batch)
    if bar is not None:
        bar.close()
    return stats


def _progress(cfg, total: int):
    if not cfg.get("progress", True) or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="doc", desc="predict", file=sys.stderr, disable=None, dynamic_ncols=True)


def _embed_stats(encoder, stats) -> dict | None:
    if encoder is None:
        return None
    from .run import _info

    return {"encoder": _info(encoder), "cache_hits": getattr(encoder, "hits", None),
            "cache_misses": getattr(encoder, "misses", None), "windowed": getattr(encoder, "windowed", None),
            "sentences": stats["sentences"]}


def report_info(catalog, encoder_info: dict | None, classifier: dict | None, model: dict | None, key: str) -> dict:
    """The run facts the report and workbook show: from a run's config and manifest fields."""
    from .run import _encoder_line

    return {"sou": catalog.sou, "title": catalog.title, "encoder": _encoder_line(encoder_info),
            "classifier": (classifier or {}).get("_target_"), "model": model["path"] if model else None,
            "config_hash": key}


# ------------------------------------------------------------------------------------ outputs


def assemble(out_dir: Path, doc_ids: list[str], parts: Parts, errors: list[dict], catalog, run_info: dict,
             low_confidence: float) -> int:
    """The run's outputs from the parts of `doc_ids` (the documents done), in doc_id order; errors in path
    order. Returns the number of documents written."""
    from .report import write_report, write_workbook

    results = []
    for doc_id in sorted(doc_ids):
        part = parts.load(doc_id)
        if part is None:
            raise RuntimeError(f"{parts.path(doc_id)}: missing part for {doc_id}")
        results.append(from_json(part))
    errors.sort(key=lambda e: (e["path"], e["error"]))
    preds = [p for r in results for p in r.predictions]
    outputs.write_predictions(preds, out_dir)
    outputs.write_matrix(preds, catalog, out_dir)
    outputs.write_errors(errors, out_dir)
    write_report(results, errors, catalog, out_dir, run_info, low_confidence)
    write_workbook(results, errors, catalog, out_dir, run_info, low_confidence)
    return len(results)


def merge(dirs: list[Path], out_dir: Path) -> dict:
    """Join the output folders of `data.shard` runs into one, as if one run had read every file."""
    from .data import load_catalog

    runs = find_runs(dirs)
    mans = [json.loads((d / "manifest.json").read_text(encoding="utf-8")) for d in runs]
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
            errors += [json.loads(line) for line in (d / "errors.jsonl").read_text(encoding="utf-8").splitlines() if line]
            for line in (d / "predictions.jsonl").read_text(encoding="utf-8").splitlines():
                doc_id = json.loads(line)["doc_id"]
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
                    outputs.write_json(part, out_parts.path(doc_id))
        errors = list({json.dumps(e, sort_keys=True): e for e in errors}.values())  # run-level rows repeat per shard
        low = cfg.get("evaluation", {}).get("low_confidence", 0.5)
        info = report_info(catalog, mans[0].get("encoder"), cfg.get("classifier"), mans[0].get("model"), mans[0]["run_key"])
        done = assemble(out_dir, doc_ids, out_parts, errors, catalog, info, low)
        man = {"command": "merge", "shards": [str(d) for d in runs], "run_key": keys.pop(), "documents": done,
               "errors": len(errors), "config": cfg, "encoder": mans[0].get("encoder"),
               "shard_manifests": [{k: m.get(k) for k in ("git", "wall_time_s", "documents", "errors", "shard")}
                                   for m in mans]}
        outputs.write_json(man, out_dir / "manifest.json")
    log.info("merge: %d shard folders, %d documents, %d errors -> %s", len(runs), done, len(errors), out_dir)
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


def merge_main(argv: list[str]) -> int:
    """`stance merge <shard folders or multirun folder…> output=<dir>`."""
    dirs = [a for a in argv if not a.startswith("output=") and not a.startswith("-")]
    out = [a.split("=", 1)[1] for a in argv if a.startswith("output=")]
    if not dirs or not out:
        print("usage: stance merge <shard output folders or a multirun folder…> output=<dir>", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        man = merge(dirs, Path(out[0]))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"merged {len(man['shards'])} shard folders: {man['documents']} documents, {man['errors']} errors -> {out[0]}")
    return 0

