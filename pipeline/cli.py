"""The `stance` console script: `stance <command> [hydra overrides…]`, a dispatch table over pipeline.commands.

Pipeline commands are one Hydra app: the command word becomes the `command=` key, so every override,
`--multirun` and `--cfg job` work as in any Hydra application. `merge` and `compare` read finished
output folders and take their own arguments, as do `review`, `labels` and `agreement`.
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from .commands import agreement, compare, download, encoder, evaluate, labels, merge, predict, review, train
from .core.configs import check_config_dir
from .core.inputs import check_output
from .core.parts import exclusive
from .core.provenance import PROJECT_ROOT, register_resolvers, write_hydra_record
from .errors import UserError
from .files import write_json

CONFIG_DIR = PROJECT_ROOT / "configs"
CONFIG_GROUPS = {d.name for d in CONFIG_DIR.iterdir() if d.is_dir()}
log = logging.getLogger("pipeline")


@dataclass(frozen=True)
class Command:
    help: str
    run: Callable | None = None  # (cfg, out_dir) -> metrics or None: a Hydra pipeline command
    main: Callable | None = None  # (argv) -> exit code: a command with its own arguments
    publishes: bool = False  # writes its .hydra/ record inside the outputs it publishes (core/outputs.publish)


COMMANDS = {
    "predict": Command("classify the documents in input=<folder or file>; writes predictions.jsonl and matrix.csv",
                       run=predict.run, publishes=True),
    "evaluate": Command("score on the labelled corpus (a trainable classifier: leave-one-document-out "
                        "cross-validation)", run=evaluate.run),
    "train": Command("cross-validate and fit a trainable classifier on the labelled corpus; writes models/<name>/",
                     run=train.run),
    "merge": Command("join the output folders of sharded predict runs: stance merge <folders or multirun folder…> "
                     "output=<dir>", main=merge.main),
    "compare": Command("compare evaluate runs: stance compare <run or multirun folders…> [--metric macro_f1] "
                       "[--output DIR]", main=compare.main),
    "review": Command("correct a predict run in the browser: stance review output=<run dir> [port=N] [--export]; "
                      "saves to <run>/corrections.jsonl, exports <run>/corrected/", main=review.main),
    "labels": Command("reviewed cells as hand labels: stance labels export <run dir> output=<labels.jsonl>",
                      main=labels.main),
    "agreement": Command("agreement of two label files: stance agreement <labels A> <labels B> [--html PAGE]",
                         main=agreement.main),
    "encoder": Command("the bundled multilingual-e5-small as a transformers folder: stance encoder build-e5 "
                       "[--output DIR] | check-e5 [--data DIR…] [--sample N]", main=encoder.main),
    "download-models": Command("pre-fetch the hub encoders (kb-sbert, kb-bert) into HF_HOME for offline use",
                               run=download.run),
}

register_resolvers()


def usage() -> str:
    lines = ["usage: stance <command> [key=value …]", "", "commands:"]
    lines += [f"  {c:<16} {cmd.help}" for c, cmd in COMMANDS.items()]
    lines += ["", "examples:", "  stance predict input=data/sou-2024-72/docs output=out/",
              "  stance predict -m input=responses/ output=out/shards run.num_shards=4 'run.shard=range(4)' "
              "hydra/launcher=joblib",
              "  stance merge out/shards output=out/all",
              "  stance evaluate -m experiment='glob(*)' output=out/experiments",
              "  stance compare out/experiments",
              "  stance evaluate output=out/eval embedder=e5-bundled",
              "  stance evaluate output=out/cv classifier=logreg",
              "  stance train name=logreg-e5 classifier=logreg embedder=e5-bundled",
              "  stance predict model=models/logreg-e5 input=data/sou-2024-72/docs output=out/",
              "  stance review output=out/",
              "  stance labels export out/ output=out/labels.jsonl"]
    return "\n".join(lines)


def _metric(result, cfg: DictConfig):
    """The value a Hydra sweeper optimises: `optimized_metric` of the metrics the command returned
    (train returns the artifact with its cross-validated metrics)."""
    if not isinstance(result, dict) or not cfg.get("optimized_metric"):
        return None
    return result.get("metrics", result).get(cfg.optimized_metric)


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name="config")
def _app(cfg: DictConfig) -> float | None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    command = COMMANDS.get(cfg.command)
    try:
        if command is None or command.run is None:
            raise UserError("command", f"unknown command '{cfg.command}'")
        with exclusive(out_dir):  # before anything is written: a refused run changes nothing of the running one
            if not command.publishes:
                write_hydra_record(out_dir, cfg)
            return _metric(command.run(cfg, out_dir), cfg)
    except UserError as e:  # one line for the expected user-facing failures
        if _in_sweep():  # one failed job must not end the sweep: record it for `stance compare`
            log.error("job failed: %s", e)
            write_json({"error": str(e), "overrides": list(HydraConfig.get().overrides.task)}, out_dir / "failed.json")
            return None
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def _in_sweep() -> bool:
    from hydra.types import RunMode

    return HydraConfig.get().mode == RunMode.MULTIRUN


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


def check_flags(flags: list[str], overrides: list[str] = ()) -> None:
    """Config folders given on the command line (`--config-dir`, `--config-path`, `file://` entries of
    `hydra.searchpath`) come from outside the project: checked before Hydra reads them
    (pipeline/core/configs.py). `--experimental-rerun` loads a pickle: refused."""
    for o in overrides:
        if o.lstrip("+").startswith("hydra.searchpath="):
            for entry in o.split("=", 1)[1].strip("[]").split(","):
                if entry.strip().startswith("file://"):
                    check_config_dir(Path(entry.strip()[len("file://"):]).expanduser())
    for i, flag in enumerate(flags):
        name, _, value = flag.partition("=")
        if name == "--experimental-rerun":
            raise UserError(name, "loads a pickled config, which can run code: refused (rerun with the overrides "
                                  "in .hydra/overrides.yaml)")
        if name in ("--config-dir", "-cd", "--config-path", "-cp"):
            value = value or (flags[i + 1] if i + 1 < len(flags) else "")
            folder = Path(value).expanduser()
            if not folder.is_absolute() and not folder.is_dir():
                folder = Path(__file__).parent / value  # Hydra reads a relative --config-path from here
            check_config_dir(folder)


def check_output_folder(name: str, flags: list[str], overrides: list[str]) -> None:
    """Before Hydra makes the run folder (and its log file) there: one line for an output folder that can't
    be written or that is an input folder, instead of a traceback or a log file among the documents."""
    if any(f.split("=")[0] in ("--cfg", "-c", "--help", "-h", "--hydra-help", "--info", "--shell-completion", "-sc")
           for f in flags):
        return
    given = dict(o.split("=", 1) for o in overrides if "=" in o and not o.startswith(("+", "~")))
    folder = Path(given.get("output") or "outputs").expanduser()
    if name == "predict" and given.get("output") and given.get("input") and not {"-m", "--multirun"} & set(flags):
        check_output([p for p in given["input"].strip("[]").split(",") if p], folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-probe-", suffix=".tmp")
        os.close(fd)
        Path(probe).unlink(missing_ok=True)  # a run publishing there may have cleaned it already
    except OSError as e:
        raise UserError(folder, f"cannot write the output folder ({type(e).__name__}: {e.strerror or e})") from None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, rest = argv[0], argv[1:]
    command = COMMANDS.get(name)
    if command is None:
        print(f"error: unknown command '{name}'\n\n{usage()}", file=sys.stderr)
        return 2
    if command.main is not None:
        return command.main(rest)
    if name == "download-models":  # positional model names: stance download-models kb-sbert
        names = [a for a in rest if "=" not in a and not a.startswith("-")]
        rest = [a for a in rest if a not in names] + ([f"+models=[{','.join(names)}]"] if names else [])
    # `embedder=null` reads naturally; Hydra spells "no option of this group" as `~embedder`.
    rest = [f"~{a.split('=')[0]}" if a.split("=", 1)[0] in CONFIG_GROUPS and a.split("=", 1)[1] in ("null", "none") else a
            for a in rest]
    flags, overrides = _split_flags(rest)
    try:
        check_flags(flags, overrides)
        check_output_folder(name, flags, overrides)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    sys.argv = [f"stance {name}", *flags, f"command={name}", *overrides]
    try:
        _app()
    except SystemExit as e:
        return int(e.code or 0) if isinstance(e.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
