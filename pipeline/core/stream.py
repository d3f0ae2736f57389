"""Streaming a batch: read and segment files in worker processes, embed and classify across documents.

Files are read and segmented in `run.workers` processes (spawn; at most 4 files per worker in flight,
so memory stays bounded however long the list), then embedded and classified in batches of about
`run.batch_sentences` sentences across documents. Each finished document is saved to `parts/` at
once, so a run killed at any point loses nothing finished.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sys
from collections import deque
from dataclasses import dataclass, field
from importlib import metadata
from itertools import islice

from omegaconf import DictConfig, OmegaConf

from ..errors import InputError
from ..records import Catalog, Doc, DocResult
from .components import VECTORS, as_dict, build
from .inputs import InputFile
from .parts import Parts
from .provenance import Timer

log = logging.getLogger(__name__)
STAGE_GROUPS = ("ingest", "segmenter", "linker", "classifier")


def run_key(cfg: DictConfig, encoder_info: dict | None, catalog_sha: str, model: dict | None) -> str:
    """What a document's result depends on besides its content: change any of it and it is recomputed."""
    spec = {
        "stages": {g: OmegaConf.to_container(cfg[g], resolve=True) if cfg.get(g) is not None else None
                   for g in STAGE_GROUPS},
        "encoder": {k: v for k, v in (encoder_info or {}).items() if k not in ("fallback_reason",)} or None,
        "catalog": catalog_sha,
        "model": model,
        "code": metadata.version("remiss-stance"),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


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


_WORKER: dict = {}  # this process's reader and segmenter (one per worker process)


def _worker_init(reader_cfg: dict, segmenter_cfg: dict) -> None:
    _WORKER["reader"] = build("ingest", reader_cfg)
    _WORKER["segmenter"] = build("segmenter", segmenter_cfg)


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
    """(DocResult or error row, seconds) for each of `todo`, in order; in `workers` processes when > 0."""
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
    """`auto`: one worker per core from 64 files on a machine with more than 2 cores, else none. Below 64
    files starting the processes costs more than it saves (reading and segmenting takes 1-9 ms a file);
    on 2 cores the encoder's threads hold both and the workers only take CPU from it
    (benchmarks/batch.py, 500 files on 2 cores: embed stage 26.1 texts/s with 2 workers, 27.8 with
    none; reading and segmenting alone 2.6 s in 2 workers, 1.3 s in-process)."""
    if setting in (None, "auto"):
        from ..stages.embed.base import available_cores

        cores = available_cores()
        return cores if n_files >= 64 and cores > 2 else 0
    return max(0, int(setting))


# ------------------------------------------------------------------------------------ the stream


@dataclass
class StreamStats:
    documents: int = 0
    sentences: int = 0
    worker_seconds: dict[str, float] = field(default_factory=dict)


def stream(cfg: DictConfig, catalog: Catalog, todo, classifier, encoder, parts: Parts, key: str, workers: int,
           errors: list[dict], timer: Timer) -> StreamStats:
    """Read, segment, embed and classify `todo`, saving each document's part as soon as it is done.

    `classifier` is bound to `catalog` already; vectors are computed only when it requires them.
    """
    reader_cfg, segmenter_cfg = as_dict(cfg.ingest), as_dict(cfg.segmenter)
    embed = encoder is not None and VECTORS in classifier.requires
    stats = StreamStats()
    bar = _progress(cfg, len(todo))

    def flush(batch: list[DocResult]) -> None:
        if not batch:
            return
        vectors = None
        if embed:
            with timer("embed"):
                vectors = encoder.encode([s.with_heading for r in batch for s in r.sentences], role="sentence")
        i = 0
        for r in batch:
            with timer("classify"):
                doc_vectors = vectors[i : i + len(r.sentences)] if vectors is not None else None
                i += len(r.sentences)
                try:
                    r.predictions = classifier.predict(Doc(r.doc_id, r.sentences, doc_vectors))
                except Exception as e:  # noqa: BLE001 - a bug met by one document must not end the batch
                    log.exception("%s: classifying failed", r.path)
                    errors.append({"path": r.path, "doc_id": r.doc_id, "error": f"could not be classified "
                                   f"({type(e).__name__}: {' '.join(str(e).split())[:100]}): a bug, please report it"})
                    continue
            parts.save(r, key)
            stats.documents += 1
            stats.sentences += len(r.sentences)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(sentences=stats.sentences, refresh=False)

    batch: list[DocResult] = []
    size = 0
    it = prepared(todo, reader_cfg, segmenter_cfg, workers)
    while True:
        with timer("read_segment_wait"):
            item = next(it, None)
        if item is None:
            break
        result, seconds = item
        if workers > 0:  # in workers: seconds summed over them, beside the wall times
            for stage, t in seconds.items():
                stats.worker_seconds[stage] = round(stats.worker_seconds.get(stage, 0.0) + t, 3)
        else:
            timer.add(seconds)
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
        if size >= cfg.run.batch_sentences:
            flush(batch)
            batch, size = [], 0
    flush(batch)
    if bar is not None:
        bar.close()
    return stats


def _progress(cfg, total: int):
    if not cfg.run.get("progress", True) or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="doc", desc="predict", file=sys.stderr, disable=None, dynamic_ncols=True)
