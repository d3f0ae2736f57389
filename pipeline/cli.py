"""The `stance` console script: `stance <command> [hydra overrides…]`.

The command word is turned into the `command=` key of a normal Hydra app, so every override,
`--multirun` and `--cfg job` work as in any Hydra application.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from .records import InputError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = PROJECT_ROOT / "configs"
COMMANDS = {
    "predict": "classify the documents in input=<folder or file>; writes predictions.jsonl and matrix.csv",
    "evaluate": "score on the labelled corpus (a trainable classifier: leave-one-document-out cross-validation)",
    "train": "cross-validate and fit a trainable classifier on the labelled corpus; writes models/<name>/",
    "merge": "join the output folders of sharded predict runs: stance merge <folders or multirun folder…> output=<dir>",
    "compare": "compare evaluate runs: stance compare <run or multirun folders…> [--metric macro_f1] [--output DIR]",
    "download-models": "pre-fetch the hub encoders (kb-sbert, kb-bert) into HF_HOME for offline use",
}
CONFIG_GROUPS = {d.name for d in CONFIG_DIR.iterdir() if d.is_dir()}
log = logging.getLogger("pipeline")

OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT), replace=True)
OmegaConf.register_new_resolver("out_dir", lambda given, default: given if given not in (None, "", "None") else default, replace=True)


def usage() -> str:
    lines = ["usage: stance <command> [key=value …]", "", "commands:"]
    lines += [f"  {c:<16} {h}" for c, h in COMMANDS.items()]
    lines += ["", "examples:", "  stance predict input=data/sou-2024-72/docs output=out/",
              "  stance predict -m input=responses/ output=out/shards data.num_shards=4 'data.shard=range(4)' "
              "hydra/launcher=joblib",
              "  stance merge out/shards output=out/all",
              "  stance evaluate -m experiment='glob(*)' output=out/experiments",
              "  stance compare out/experiments",
              "  stance evaluate output=out/eval embedder=e5-bundled",
              "  stance evaluate output=out/cv classifier=logreg",
              "  stance train name=logreg-e5 classifier=logreg embedder=e5-bundled",
              "  stance predict model=models/logreg-e5 input=data/sou-2024-72/docs output=out/"]
    return "\n".join(lines)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def _app(cfg: DictConfig) -> float | None:
    from . import run

    out_dir = Path(HydraConfig.get().runtime.output_dir)
    try:
        if cfg.command == "predict":
            run.predict(cfg, out_dir)
        elif cfg.command == "evaluate":
            metrics = run.evaluate(cfg, out_dir)
            return metrics.get("cell_accuracy")  # the value a Hydra sweeper optimises
        elif cfg.command == "train":
            result = run_train(cfg, out_dir)
            return result["meta"]["cv"].get("cell_accuracy")
        elif cfg.command == "download-models":
            from .embed import download_models

            names = cfg.get("models") or ["kb-sbert", "kb-bert"]
            for name, path in download_models(list(names)).items():
                print(f"{name}: {path}")
        else:
            raise InputError("command", f"unknown command '{cfg.command}'")
    except Exception as e:  # one-line errors for the expected user-facing failures
        from .embed import EncoderUnavailable

        if not isinstance(e, (InputError, EncoderUnavailable)):
            raise
        if _in_sweep():  # one failed job must not end the sweep: record it for `stance compare`
            from .outputs import write_json

            log.error("job failed: %s", e)
            write_json({"error": str(e), "overrides": list(HydraConfig.get().overrides.task)}, out_dir / "failed.json")
            return None
        _fail(str(e))
    return None


def _in_sweep() -> bool:
    from hydra.types import RunMode

    return HydraConfig.get().mode == RunMode.MULTIRUN


def run_train(cfg: DictConfig, out_dir: Path) -> dict:
    from .train import train

    return train(cfg, out_dir)


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


_VALUE_FLAGS = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
                "--info", "--experimental-rerun"}


def _split_flags(args: list[str]) -> tuple[list[str], list[str]]:
    """Hydra's flags (-m, --cfg job, …) before the overrides: argparse refuses them mixed."""
    flags, overrides, i = [], [], 0
    while i < len(args):
        a = args[i]
        if a.startswith("-") and not a.startswith("~"):
            flags.append(a)
            if a in _VALUE_FLAGS and i + 1 < len(args) and "=" not in args[i + 1]:
                flags.append(args[i + 1])
                i += 1
        else:
            overrides.append(a)
        i += 1
    return flags, overrides


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"error: unknown command '{command}'\n\n{usage()}", file=sys.stderr)
        return 2
    if command == "merge":  # not a pipeline run: joins finished output folders
        from .batch import merge_main

        return merge_main(rest)
    if command == "compare":
        from .compare import main as compare_main

        return compare_main(rest)
    if command == "download-models":  # positional model names: stance download-models kb-sbert
        names = [a for a in rest if "=" not in a and not a.startswith("-")]
        rest = [a for a in rest if a not in names] + ([f"+models=[{','.join(names)}]"] if names else [])
    # `embedder=null` reads naturally; Hydra spells "no option of this group" as `~embedder`.
    rest = [f"~{a.split('=')[0]}" if a.split("=", 1)[0] in CONFIG_GROUPS and a.split("=", 1)[1] in ("null", "none") else a
            for a in rest]
    flags, overrides = _split_flags(rest)
    sys.argv = [f"stance {command}", *flags, f"command={command}", *overrides]
    try:
        _app()
    except SystemExit as e:
        return int(e.code or 0) if isinstance(e.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
