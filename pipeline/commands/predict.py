"""`stance predict input=<folders or files> output=<dir>`: folders of remissvar in, the output contract and
a remissammanställning out.

A run streams (pipeline/core/stream.py). Each finished document is written at once, atomically, to
`output/parts/`, keyed by its content hash and the run key (config, encoder actually used, model,
catalog): a run killed at any point loses nothing finished, and a rerun skips what is done. The
outputs are assembled from the parts at the end, in doc_id order, so an uninterrupted run, a resumed
one and merged shards write the same files. They are published as one unit (core/outputs.py:
`publish`), with the manifest and the run's `.hydra/` record: a reader of the folder never sees two
runs mixed.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from ..core.artifacts import check_encoder, load_model
from ..core.assemble import assemble, report_info
from ..core.catalog import load_catalog
from ..core.components import (VECTORS, available, build_classifier, build_reader, check_requirements,
                               check_trained, load_encoder)
from ..core.inputs import check_output, hash_inputs, list_inputs, select_shard
from ..core.outputs import publish
from ..core.parts import Parts, exclusive
from ..core.provenance import Timer, embed_stats, manifest, write_hydra_record
from ..core.stream import resolve_workers, run_key, stream
from ..files import file_sha256, write_json

log = logging.getLogger(__name__)


def run(cfg: DictConfig, out_dir: Path) -> dict:
    timer = Timer()
    given = cfg
    artifact, cfg = load_model(cfg)
    catalog = load_catalog(cfg.data.catalog)
    check_output(cfg.input, out_dir)
    reader = build_reader(cfg)
    files, errors = list_inputs(cfg.input, exclude=out_dir, follow_symlinks=reader.follow_symlinks)
    n_all = len(files)
    shard, num_shards = cfg.run.shard, cfg.run.num_shards
    files = select_shard(files, shard, num_shards)
    classifier = artifact.build_classifier() if artifact is not None else build_classifier(cfg)
    check_trained(classifier)
    check_requirements(classifier, available(cfg.get("embedder")))
    with exclusive(out_dir):
        with timer("hash"):
            hashes, unreadable = hash_inputs(files)
        for e in unreadable:
            log.error("%s: %s", e["path"], e["error"])
        errors += unreadable
        files = [f for f in files if f.doc_id in hashes]
        encoder = None
        if cfg.get("embedder") is not None:
            with timer("load_encoder"):
                encoder = load_encoder(cfg.embedder, cache_dir=cfg.paths.cache_dir)
        encoder_info = encoder.info.to_dict() if encoder is not None else None
        if artifact is not None:
            check_encoder(artifact, encoder_info)
        proposal_vectors = None
        if encoder is not None and VECTORS in classifier.requires:
            with timer("embed"):
                proposal_vectors = encoder.encode([p.text for p in catalog.proposals], role="proposal")
        classifier.bind(catalog, proposal_vectors)
        model = artifact.info() if artifact is not None else None
        key = run_key(cfg, encoder_info, file_sha256(Path(cfg.data.catalog)), model)
        parts = Parts(out_dir)
        parts.clean()
        todo = [(f, hashes[f.doc_id]) for f in files
                if cfg.run.force or not parts.is_done(f.doc_id, hashes[f.doc_id], key)]
        if len(todo) < len(files):
            log.info("resuming: %d of %d documents already done in %s (run.force=true recomputes them)",
                     len(files) - len(todo), len(files), parts.dir)
        workers = resolve_workers(cfg.run.get("workers"), len(todo))
        stats = stream(cfg, catalog, todo, classifier, encoder, parts, key, workers, errors, timer)
        info = report_info(catalog, encoder_info, OmegaConf.to_container(cfg.classifier, resolve=True), model, key)
        failed = {e["path"] for e in errors}
        done_ids = [f.doc_id for f in files if str(f.path) not in failed]
        man: dict = {}

        def write(folder: Path) -> None:  # the outputs, the manifest and the run's config: one unit
            with timer("assemble"):
                done = assemble(folder, done_ids, parts, errors, catalog, info, cfg.report.low_confidence)
            man.update(manifest(cfg, timer, embed_stats(encoder, stats.sentences), {
                "documents": done, "errors": len(errors), "skipped_done": len(files) - len(todo),
                "processed": stats.documents, "inputs": n_all, "sentences_processed": stats.sentences,
                "workers": workers, "worker_seconds": stats.worker_seconds or None,
                "shard": {"index": shard, "count": num_shards}, "run_key": key, "model": model,
                "data_hash": hashlib.sha256(json.dumps(sorted(hashes.items())).encode()).hexdigest()[:16],
            }))
            write_json(man, folder / "manifest.json")
            write_hydra_record(folder, given)

        publish(out_dir, write)
    log.info("predict: %d documents (%d skipped as done), %d errors -> %s", man["documents"], len(files) - len(todo),
             len(errors), out_dir)
    return man
