"""Config folders from outside the project (`--config-dir`, `--config-path`), checked before Hydra reads them.

Our own code builds only registered components (pipeline/registry.py), but Hydra itself instantiates
some nodes of a config: `hydra.callbacks`, the launcher and sweeper, and the logging setup (where
`()` and a handler's `class` name any callable). A config folder someone else wrote could run code
through them before any command starts. So every YAML file of such a folder is parsed with the
bounded loader (pipeline/files.py: size and alias limits), and refused in one line when it:

- lies under `hydra/` or is packaged into `hydra` (`# @package hydra…`): it would define a Hydra
  launcher, sweeper, callback or logging config; Hydra's own and its installed plugins' configs can
  still be chosen (`hydra/launcher=joblib`);
- sets `hydra.callbacks`, `hydra.job_logging`, `hydra.hydra_logging` or `hydra.searchpath`;
- names a `_target_` that is not a registered component, or holds a `()` factory key.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from .. import registry
from ..errors import InputError
from ..files import load_yaml
from . import components  # noqa: F401 - registers the components whose names a config may use

HYDRA_KEYS_REFUSED = ("callbacks", "job_logging", "hydra_logging", "searchpath")
MAX_FILES = 2000
_PACKAGE = re.compile(r"^#\s*@package\s+(\S+)", re.M)


def check_config_dir(folder) -> None:
    """Refuse (InputError) a config folder from outside the project that could make Hydra run code."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "no such config folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml"))
    if len(files) > MAX_FILES:
        raise InputError(folder, f"more than {MAX_FILES} YAML files: not a config folder")
    for path in files:
        rel = path.relative_to(folder)
        if rel.parts[0] == "hydra":
            raise InputError(path, "a config folder from outside the project may not define Hydra's own configs "
                                   "(hydra/…: launchers, callbacks, logging): refused")
        try:
            doc = load_yaml(path)
            head = path.read_text(encoding="utf-8")[:2000]
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            raise InputError(path, f"not valid YAML ({type(e).__name__})") from None
        package = next(iter(_PACKAGE.findall(head)), "")
        if package == "hydra" or package.startswith("hydra."):
            raise InputError(path, f"packaged into Hydra's own config (@package {package}): refused")
        if isinstance(doc, dict) and isinstance(doc.get("hydra"), dict):
            refused = [k for k in HYDRA_KEYS_REFUSED if k in doc["hydra"]]
            if refused:
                raise InputError(path, f"sets hydra.{refused[0]}: Hydra would build what it names; refused in a "
                                       f"config from outside the project")
        _check_node(doc, path, "")


def _check_node(node, path: Path, key: str) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "()":
                raise InputError(path, f"a '()' factory at {key or 'the top'}: refused")
            if k == "_target_" and not _registered(v):
                raise InputError(path, f"_target_ '{v}' at {key or 'the top'} is not a registered component "
                                       f"({', '.join(n for kind in registry.KINDS for n in registry.names(kind))}): "
                                       f"refused")
            _check_node(v, path, f"{key}.{k}" if key else str(k))
    elif isinstance(node, list):
        for v in node:
            _check_node(v, path, key)


def _registered(name) -> bool:
    return isinstance(name, str) and any(registry.name_of(kind, name) in registry.names(kind) for kind in registry.KINDS)
