"""Batch predict end to end: `stance predict` over a synthetic folder of remissvar, plus parallel ingest.

    python benchmarks/batch.py [--docs 500] [--seed 0] [--workdir DIR] [--json results.json] [--verbatim]
                               [--pdf-share 0.2] [--docx-share 0.1] [--paras 8 40] [--repeats 3] [--no-resume]
                               [overrides …]

Quick check: --docs 60 (about 2 minutes). The default (500 documents, about 5,300 sentences) takes about 6
minutes on 2 quiet cores, nearly all of it embedding; about twice that when another process holds a core.

1. A synthetic corpus of --docs documents, built by recombining the paragraphs (split on blank lines)
   of the five labelled responses in data/sou-2024-72/docs: a header paragraph from one source, then
   8-40 paragraphs drawn from all of them, seeded. Recombined paragraphs repeat (about 340 exist), so
   an embedding cache would serve most sentences after the first few documents; unless --verbatim,
   two adjacent words (never the first) are swapped in each line of a body paragraph, per document,
   so nearly every sentence is a text the encoder has not seen, as in a real folder of responses.
   A share of the documents is written as PDF (fpdf2, text layer) and Word .docx, the rest as .txt.
   With 8-40 paragraphs (many are fragments of one wrapped sentence) a document has about 10
   sentences, a quarter of the labelled sources' 43: documents/minute scales with that.
2. The real console script in a subprocess, default offline config (kb-sbert, which falls back to
   the bundled e5 without the hub), HF_HUB_OFFLINE=1 and a fresh, empty embedding cache
   (REMISS_CACHE): a cold run, a warm run (same cache, new output folder) and a resumed run (the
   warm run's output folder again: every document is skipped as done). Throughput uses the
   manifest's sentence count; the texts actually encoded are the rows the cold run wrote to the
   cache. Peak memory is reported two ways: the largest summed RSS of the run's process tree
   (sampled from /proc every 0.1 s: main process + ingest workers together) and the max RSS of any
   single process of the tree (ru_maxrss from wait4, which covers the child and its reaped children).
3. `pipeline.core.stream.prepared` over all files with workers=0 (in this process) and workers=2 (and one
   per core, where different), the generator consumed fully, each repeated and the best kept; the
   workers=N timings include starting the spawn processes, as a run pays it.

The machine may be shared: for every timing the share of all CPUs used by other processes (system
busy time from /proc/stat minus this process's and its children's CPU time) and the load average
before and after are recorded. The last line printed is a JSON summary (also written to --json).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DOCS = ROOT / "data" / "sou-2024-72" / "docs"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# corpus


def paragraphs(text: str) -> list[str]:
    return [p.strip("\n") for p in re.split(r"\n[ \t]*\n", text) if p.strip()]


def perturb(paragraph: str, rng: random.Random) -> str:
    """Swap two adjacent words (never the first) in each line of 4+ words: the same vocabulary and
    line layout (so segmentation and the lexicon see the same kind of text), but a new string."""
    out = []
    for line in paragraph.split("\n"):
        words = line.split(" ")
        idx = [i for i in range(1, len(words) - 1) if words[i] and words[i + 1]]
        if len(words) >= 4 and idx:
            i = rng.choice(idx)
            words[i], words[i + 1] = words[i + 1], words[i]
        out.append(" ".join(words))
    return "\n".join(out)


DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def write_pdf(path: Path, paras: list[str]) -> None:
    """A PDF with a text layer (fpdf2): each source line a line, a blank line between paragraphs."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    if DEJAVU.is_file():
        pdf.add_font("DejaVu", fname=str(DEJAVU))
        pdf.set_font("DejaVu", size=10)
    else:  # core font: Latin-1 only (Swedish letters are; bullets and dashes are not)
        pdf.set_font("Helvetica", size=10)
        paras = [p.replace("\u2022", "-").replace("\u2013", "-").replace("\u2014", "-")
                 .encode("latin-1", "replace").decode("latin-1") for p in paras]
    for para in paras:
        for line in para.split("\n"):
            pdf.multi_cell(0, 5, line.strip() or " ", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(5)
    path.write_bytes(bytes(pdf.output()))


def write_docx(path: Path, paras: list[str]) -> None:
    """A Word file: each blank-line paragraph one Word paragraph (its wrapped lines joined)."""
    import docx

    document = docx.Document()
    for para in paras:
        document.add_paragraph(" ".join(line.strip() for line in para.split("\n") if line.strip()))
    document.save(str(path))


def build_corpus(out: Path, n_docs: int, seed: int, verbatim: bool, pdf_share: float = 0.0, docx_share: float = 0.0,
                 min_paras: int = 8, max_paras: int = 40) -> dict:
    sources = {p.stem: paragraphs(p.read_text(encoding="utf-8")) for p in sorted(DOCS.glob("*.txt"))}
    if not sources:
        raise SystemExit(f"no labelled documents in {DOCS}")
    pool = [(name, i) for name, paras in sources.items() for i in range(1, len(paras))]
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    n_paras = n_chars = 0
    formats = {"txt": 0, "pdf": 0, "docx": 0}
    for d in range(n_docs):
        head_src = rng.choice(sorted(sources))
        k = rng.randint(min_paras, max_paras)
        body = [sources[name][i] for name, i in (rng.choice(pool) for _ in range(k))]
        if not verbatim:
            body = [perturb(p, rng) for p in body]
        paras = [sources[head_src][0], *body]
        u = rng.random()
        fmt = "pdf" if u < pdf_share else "docx" if u < pdf_share + docx_share else "txt"
        path = out / f"svar-{d:04d}-{head_src}.{fmt}"
        if fmt == "pdf":
            write_pdf(path, paras)
        elif fmt == "docx":
            write_docx(path, paras)
        else:
            path.write_text("\n\n".join(paras) + "\n", encoding="utf-8")
        formats[fmt] += 1
        n_paras += k + 1
        n_chars += sum(map(len, paras))
    return {"documents": n_docs, "paragraphs": n_paras, "characters": n_chars, "formats": formats,
            "source_paragraphs": sum(map(len, sources.values())), "perturbed": not verbatim}


# ---------------------------------------------------------------------------------------------
# measuring


def busy_seconds() -> float:
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / TICK  # all CPU time but idle and iowait


def own_cpu() -> float:
    """CPU seconds of this process and its reaped children."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class Contention:
    """Load average and other processes' CPU share over a measured span."""

    def __enter__(self):
        self.load_before = os.getloadavg()
        self.b0, self.c0, self.t0 = busy_seconds(), own_cpu(), time.perf_counter()
        return self

    def stop(self, extra_own: float = 0.0) -> dict:
        """extra_own: CPU seconds of ours not yet reaped (a child still counted in /proc only)."""
        dt = time.perf_counter() - self.t0
        other = (busy_seconds() - self.b0) - (own_cpu() - self.c0) - extra_own
        self.result = {"seconds": dt, "other_share": max(0.0, other) / (dt * (os.cpu_count() or 1)) if dt > 0.3 else None,
                       "load_before": [round(x, 2) for x in self.load_before],
                       "load_after": [round(x, 2) for x in os.getloadavg()]}
        return self.result

    def __exit__(self, *exc):
        if not hasattr(self, "result"):
            self.stop()
        return False


def wait_quiet(max_wait: float, quiet: float = 0.1) -> float:
    """Wait (up to max_wait s) for a second in which other processes use < quiet of the CPUs; returns
    the last share seen."""
    end, share = time.monotonic() + max_wait, 1.0
    while time.monotonic() < end:
        b0, c0, t0 = busy_seconds(), own_cpu(), time.perf_counter()
        time.sleep(1.0)
        share = max(0.0, (busy_seconds() - b0) - (own_cpu() - c0)) / ((time.perf_counter() - t0) * (os.cpu_count() or 1))
        if share < quiet:
            break
    return share


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def tree(pid: int) -> list[int]:
    kids, out, stack = _children_map(), [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        stack += kids.get(p, [])
    return out


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def cpu_of(pids) -> float:
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                v = f.read().rsplit(")", 1)[1].split()
            total += (int(v[11]) + int(v[12])) / TICK
        except (OSError, IndexError, ValueError):
            pass
    return total


def run_stance(args: list[str], env: dict, log_path: Path) -> dict:
    """Run `stance …` as a child; wall time, peak tree RSS (sampled) and max single RSS (wait4)."""
    stance = shutil.which("stance", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    cmd = [stance, *args] if stance else [sys.executable, "-m", "pipeline.cli", *args]
    peak = {"tree": 0, "procs": 0}
    with open(log_path, "w") as log, Contention() as c:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample():
            while not done.is_set():
                pids = tree(proc.pid)
                peak["tree"] = max(peak["tree"], sum(rss_bytes(p) for p in pids))
                peak["procs"] = max(peak["procs"], len(pids))
                done.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - c.t0
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        c.stop()
    if proc.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"`{' '.join(cmd)}` failed (exit {proc.returncode}); log {log_path}:\n{tail}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_tree_rss_mb": peak["tree"] / 2**20,
            "max_single_rss_mb": usage.ru_maxrss / 1024, "max_processes": peak["procs"],
            "other_share": c.result["other_share"], "load_before": c.result["load_before"],
            "load_after": c.result["load_after"]}


def cache_rows(cache_dir: Path) -> int:
    """Vectors stored in an embedding cache: the texts the encoder actually computed."""
    from safetensors import safe_open

    n = 0
    for p in (cache_dir / "embeddings").rglob("*.safetensors"):  # not the converted models beside them
        with safe_open(str(p), framework="np") as f:
            n += f.get_slice("keys").get_shape()[0]
    return n


# ---------------------------------------------------------------------------------------------
# parallel ingest


def stage_configs() -> tuple[dict, dict]:
    """The reader and segmenter configs of the composed default config, as `stance predict` passes them."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    importlib.import_module("pipeline.cli")  # registers the config's resolvers

    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["command=predict"])
    return (OmegaConf.to_container(cfg.ingest, resolve=True), OmegaConf.to_container(cfg.segmenter, resolve=True))


def time_prepared(todo, reader_cfg, segmenter_cfg, workers: int, repeats: int) -> dict:
    from pipeline.core.stream import prepared

    tries = []
    for _ in range(repeats):
        wait_quiet(10)
        with Contention() as c:
            n_ok = n_err = n_sent = 0
            per_format: dict[str, dict] = {}
            for (file, _sha), (result, secs) in zip(todo, prepared(todo, reader_cfg, segmenter_cfg, workers)):
                if isinstance(result, dict):
                    n_err += 1
                else:
                    n_ok += 1
                    n_sent += len(result.sentences)
                f = per_format.setdefault(file.path.suffix.lstrip(".").lower(), {"files": 0, "ingest_s": 0.0,
                                                                                  "segment_s": 0.0})
                f["files"] += 1
                f["ingest_s"] += secs.get("ingest", 0.0)
                f["segment_s"] += secs.get("segment", 0.0)
            r = c.stop()
        tries.append({**r, "documents": n_ok, "errors": n_err, "sentences": n_sent, "per_format": per_format})
    best = min(tries, key=lambda t: t["seconds"])
    return {"workers": workers, "best_s": best["seconds"], "docs_per_s": len(todo) / best["seconds"],
            "tries_s": [round(t["seconds"], 3) for t in tries], "other_share_best": best["other_share"],
            "documents": best["documents"], "errors": best["errors"], "sentences": best["sentences"],
            "load_before": tries[0]["load_before"], "load_after": tries[-1]["load_after"],
            "per_format": best["per_format"]}


# ---------------------------------------------------------------------------------------------
# the encoder alone on the run's own texts


def flushes(results, batch_sentences: int) -> list[list[str]]:
    """The texts the cold run asked its encoder for, flush by flush: documents joined until a flush holds
    batch_sentences sentences (pipeline.core.stream), each text once (the cache computes a text once)."""
    out, seen, batch, size = [], set(), [], 0
    for r in results:
        batch.append(r)
        size += len(r.sentences)
        if size >= batch_sentences:
            out.append(batch)
            batch, size = [], 0
    if batch:
        out.append(batch)
    texts = []
    for b in out:
        new = list(dict.fromkeys(s.with_heading for r in b for s in r.sentences if s.with_heading not in seen))
        seen.update(new)
        texts.append(new)
    return [t for t in texts if t]


def token_counts(encoder, texts) -> list[int]:
    if hasattr(encoder, "tokenizer"):
        return [len(ids) for ids in encoder.tokenizer([encoder.model_input(t) for t in texts])["input_ids"]]
    return [encoder._e5.token_count(t, False) for t in texts]


def encoder_alone(config: dict, groups: dict[str, list[list[str]]], repeats: int) -> dict:
    """The run's embedder config (its fallback where the run fell back), loaded in this process without the
    cache, timed on each group of texts (a list of calls), best of `repeats`."""
    from pipeline.core.components import load_encoder

    encoder = load_encoder(config["embedder"])
    encoder.encode(groups[next(iter(groups))][0][:8])  # warm up
    out = {"encoder": encoder.info.name}
    for name, calls in groups.items():
        tries = []
        for _ in range(repeats):
            wait_quiet(10)
            with Contention() as c:
                for texts in calls:
                    encoder.encode(texts)
            tries.append(c.result)
        best = min(tries, key=lambda t: t["seconds"])
        n = sum(map(len, calls))
        tokens = [k for texts in calls for k in token_counts(encoder, texts)]
        out[name] = {"texts": n, "calls": len(calls), "seconds": round(best["seconds"], 3),
                     "texts_per_s": round(n / best["seconds"], 1), "tokens_mean": round(sum(tokens) / len(tokens), 1),
                     "tokens_per_s": round(sum(tokens) / best["seconds"]), "other_share": best["other_share"],
                     "load_before": best["load_before"]}
    return out


def pct(x) -> str:
    return "-" if x is None else f"{x:.0%}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=500, help="synthetic documents (default 500)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=None, help="where corpus, outputs and cache go (default: a temp dir, "
                                                                "removed at the end)")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--verbatim", action="store_true", help="recombined paragraphs unchanged (the cache then "
                                                            "serves most sentences)")
    ap.add_argument("--pdf-share", type=float, default=0.2, help="share of documents written as PDF (fpdf2)")
    ap.add_argument("--docx-share", type=float, default=0.1, help="share written as Word .docx; the rest .txt")
    ap.add_argument("--paras", type=int, nargs=2, default=(8, 40), metavar=("MIN", "MAX"),
                    help="body paragraphs per document (default 8 40)")
    ap.add_argument("--repeats", type=int, default=3, help="timings of each parallel-ingest setting (best kept)")
    ap.add_argument("--no-resume", action="store_true", help="skip the warm and resumed runs")
    ap.add_argument("overrides", nargs="*", help="config overrides for every run, e.g. run.workers=0 embedder=e5-hf")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    n_cores = cores()

    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="batch-bench-")
        work = Path(tmp.name)
    else:
        work = args.workdir.resolve()
        if work.exists() and any(work.iterdir()):
            raise SystemExit(f"--workdir {work} is not empty: the runs need a fresh cache and output folders")
        work.mkdir(parents=True, exist_ok=True)
    corpus_dir, cache_dir = work / "corpus", work / "cache"
    cache_dir.mkdir()
    t0 = time.perf_counter()
    corpus = build_corpus(corpus_dir, args.docs, args.seed, args.verbatim, args.pdf_share, args.docx_share,
                          *args.paras)
    fmts = ", ".join(f"{n} .{f}" for f, n in corpus["formats"].items() if n)
    print(f"corpus: {corpus['documents']} documents ({fmts}), {corpus['paragraphs']} paragraphs, "
          f"{corpus['characters']:,} characters, from {corpus['source_paragraphs']} source paragraphs "
          f"({'perturbed: adjacent words swapped per line' if corpus['perturbed'] else 'verbatim'}) in {corpus_dir}, built in {time.perf_counter() - t0:.1f}s",
          flush=True)
    print(f"machine: {n_cores} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    env = {**os.environ, "REMISS_CACHE": str(cache_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONUNBUFFERED": "1"}
    common = [f"input={corpus_dir}", "run.progress=false", *args.overrides]
    runs, manifests = {}, {}
    plan = [("cold", work / "out-cold"), ("warm", work / "out-warm"), ("resumed", work / "out-warm")]
    if args.no_resume:
        plan = plan[:1]
    for name, out in plan:
        wait_quiet(20)
        print(f"stance predict ({name}) -> {out} ...", flush=True)
        runs[name] = run_stance(["predict", *common, f"output={out}"], env, work / f"{name}.log")
        manifests[name] = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        if name == "cold":
            runs[name]["cache_rows"] = cache_rows(cache_dir)
        r = runs[name]
        print(f"  {r['wall_s']:.1f}s wall, {r['cpu_s']:.1f}s CPU, peak tree RSS {r['peak_tree_rss_mb']:.0f} MB, "
              f"other processes {pct(r['other_share'])} of the CPUs", flush=True)

    cold, man = runs["cold"], manifests["cold"]
    n_docs, n_sent = man["documents"], man["sentences_processed"]
    emb = man.get("embedding") or {}
    enc = man.get("encoder") or {}

    # parallel ingest: the same files as the run, in the same order
    from pipeline.core.inputs import list_inputs
    from pipeline.files import file_sha256
    from pipeline.core.stream import prepared

    reader_cfg, segmenter_cfg = stage_configs()
    files, _ = list_inputs(corpus_dir)
    todo = [(f, file_sha256(f.path)) for f in files]
    settings = sorted({0, 2, n_cores})
    print(f"parallel ingest+segment: {len(todo)} files, workers {settings}, best of {args.repeats} ...", flush=True)
    ingest = []
    for w in settings:
        r = time_prepared(todo, reader_cfg, segmenter_cfg, w, args.repeats)
        ingest.append(r)
        print(f"  workers={w}: {r['best_s']:.2f}s (tries {r['tries_s']}), {r['docs_per_s']:.0f} docs/s, "
              f"other processes {pct(r['other_share_best'])}", flush=True)
    serial = ingest[0]["best_s"]
    for r in ingest:
        r["speedup"] = serial / r["best_s"]
    per_format = ingest[0]["per_format"]  # in-process timings: no worker start-up in them
    from pipeline.core.catalog import load_catalog

    n_props = len(load_catalog(man["config"]["data"]["catalog"]).proposals)
    src_files, _ = list_inputs(DOCS)
    src = [r for r, _ in prepared([(f, "") for f in src_files], reader_cfg, segmenter_cfg, 0) if not isinstance(r, dict)]
    src_per_doc = sum(len(r.sentences) for r in src) / max(len(src), 1)

    # the run's encoder alone, in this process, on the texts the cold run embedded (flush by flush),
    # and on the labelled sources' sentences: what the embed stage's rate is to be compared with
    run_results = [r for r, _ in prepared(todo, reader_cfg, segmenter_cfg, 0) if not isinstance(r, dict)]
    run_texts = flushes(run_results, man["config"]["run"]["batch_sentences"])
    src_texts = list(dict.fromkeys(s.with_heading for r in src for s in r.sentences))
    print(f"the run's encoder alone: {sum(map(len, run_texts))} texts of the run in {len(run_texts)} calls, "
          f"{len(src_texts)} of the labelled sources, once each (as the cold run) ...", flush=True)
    alone = encoder_alone(man["config"], {"run_texts": run_texts, "labelled_texts": [src_texts]}, 1)

    # ---- report
    total = time.perf_counter() - t_start
    print()
    print(f"=== stance predict, {n_docs} documents, {n_sent} sentences "
          f"({n_sent / max(n_docs, 1):.1f}/document; the labelled sources have {src_per_doc:.1f}), {n_cores} cores, "
          f"workers={man.get('workers')} ===")
    print(f"encoder: {enc.get('name')} ({enc.get('model')})"
          + (f", fallback from {enc['fallback_from']}" if enc.get("fallback_from") else ""))
    n_sent_enc = cold["cache_rows"] - n_props
    print(f"embedding cache (cold run): {emb.get('cache_hits')} hits, {emb.get('cache_misses')} misses; "
          f"{cold['cache_rows']} distinct texts encoded: {n_props} proposals + {n_sent_enc} sentences "
          f"({n_sent_enc / max(n_sent, 1):.0%} of the sentences; the rest repeat)")
    print(f"cold run:    {cold['wall_s']:7.1f}s   {n_docs / cold['wall_s'] * 60:7.1f} documents/min   "
          f"{n_sent / cold['wall_s']:6.1f} sentences/s   ({cold['cpu_s']:.0f}s CPU, "
          f"other processes {pct(cold['other_share'])}, load {cold['load_before'][0]:.2f} -> {cold['load_after'][0]:.2f})")
    ws = man["wall_time_s"]
    embed_s = ws.get("embed") or 0.0
    if embed_s:
        print(f"             embed stage: {cold['cache_rows'] / embed_s:.1f} texts encoded/s, "
              f"{n_sent / embed_s:.1f} sentences/s")
    for name, what in (("run_texts", "the run's texts, flush by flush"), ("labelled_texts", "the labelled sources")):
        a = alone[name]
        print(f"             encoder alone ({alone['encoder']}) on {what}: {a['texts_per_s']:.1f} texts/s, "
              f"{a['tokens_mean']:.1f} tokens/text, {a['tokens_per_s']} tokens/s ({a['texts']} texts, "
              f"{a['calls']} calls; other processes {pct(a['other_share'])})")
    print(f"peak memory: {cold['peak_tree_rss_mb']:.0f} MB summed over the process tree (sampled every 0.1s, "
          f"up to {cold['max_processes']} processes); {cold['max_single_rss_mb']:.0f} MB max RSS of any single process "
          f"(ru_maxrss via wait4)")
    for name in ("warm", "resumed"):
        if name in runs:
            r, m = runs[name], manifests[name]
            e = m.get("embedding") or {}
            print(f"{name + ' run:':<12} {r['wall_s']:7.1f}s   processed {m.get('processed')}, skipped as done "
                  f"{m.get('skipped_done')}, cache hits {e.get('cache_hits')} misses {e.get('cache_misses')}; "
                  f"peak tree RSS {r['peak_tree_rss_mb']:.0f} MB ({cold['wall_s'] / r['wall_s']:.1f}x faster than cold)")
    print()
    print("stage breakdown (manifest wall_time_s, then worker_seconds: summed over the ingest workers, overlapped):")
    accounted = 0.0
    for stage, s in sorted(ws.items(), key=lambda kv: -kv[1]):
        accounted += s
        print(f"  {stage:<18} {s:8.2f}s  {s / cold['wall_s']:5.0%}")
    for stage, s in sorted((man.get("worker_seconds") or {}).items(), key=lambda kv: -kv[1]):
        print(f"  {stage + ' (workers)':<18} {s:8.2f}s  {s / cold['wall_s']:5.0%}  (in worker processes, overlapped)")
    print(f"  {'(outside stages)':<18} {cold['wall_s'] - accounted:8.2f}s  {(cold['wall_s'] - accounted) / cold['wall_s']:5.0%}"
          f"  process start, imports, config, hydra, manifest")
    for name in ("warm", "resumed"):
        if name in manifests:
            print(f"  {name}: " + ", ".join(f"{k} {v:.2f}s" for k, v in sorted(manifests[name]["wall_time_s"].items(),
                                                                              key=lambda kv: -kv[1])))
    print()
    print(f"parallel ingest+segment (pipeline.core.stream.prepared, {len(todo)} files, best of {args.repeats}):")
    for r in ingest:
        print(f"  workers={r['workers']:<3} {r['best_s']:7.2f}s  {r['docs_per_s']:7.1f} docs/s  speed-up "
              f"{r['speedup']:.2f}x  (other processes {pct(r['other_share_best'])}, load "
              f"{r['load_before'][0]:.2f} -> {r['load_after'][0]:.2f})")
    print("  where ingest time goes (workers=0, ms per file): " + "; ".join(
        f".{fmt} ({v['files']} files) read {v['ingest_s'] / v['files'] * 1000:.1f} + segment "
        f"{v['segment_s'] / v['files'] * 1000:.1f}" for fmt, v in sorted(per_format.items())))
    print()
    print(f"total benchmark time {total:.0f}s. 'other processes': share of all {os.cpu_count()} CPUs used by processes "
          f"not ours during the timing; above ~10% the timing is pessimistic.")

    summary = {
        "documents": n_docs,
        "sentences": n_sent,
        "texts_encoded": cold["cache_rows"],
        "proposals": n_props,
        "source_sentences_per_doc": round(src_per_doc, 1),
        "corpus": corpus,
        "cores": n_cores,
        "workers": man.get("workers"),
        "encoder": {k: enc.get(k) for k in ("name", "model", "fallback_from")},
        "cold": {**{k: round(v, 3) if isinstance(v, float) else v for k, v in cold.items()},
                 "docs_per_min": round(n_docs / cold["wall_s"] * 60, 1),
                 "sentences_per_s": round(n_sent / cold["wall_s"], 1),
                 "embed_texts_per_s": round(cold["cache_rows"] / embed_s, 1) if embed_s else None,
                 "embed_s": embed_s,
                 "cache_hits": emb.get("cache_hits"), "cache_misses": emb.get("cache_misses"),
                 "stages_s": ws},
        **{name: {**{k: round(v, 3) if isinstance(v, float) else v for k, v in runs[name].items()},
                  "processed": manifests[name].get("processed"), "skipped_done": manifests[name].get("skipped_done"),
                  "stages_s": manifests[name]["wall_time_s"]}
           for name in ("warm", "resumed") if name in runs},
        "peak_tree_rss_mb": round(cold["peak_tree_rss_mb"], 1),
        "max_single_rss_mb": round(cold["max_single_rss_mb"], 1),
        "encoder_alone": alone,
        "parallel_ingest": [{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()} for r in ingest],
        "total_s": round(total, 1),
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if tmp is not None:
        tmp.cleanup()
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
