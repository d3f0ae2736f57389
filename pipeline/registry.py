"""Named, versioned components: the only things a config or a model artifact can ask for.

A stage's config node names its implementation with `_target_: <registered name>` (for example
`_target_: logreg.v2`, as spaCy names `spacy.TextCatBOW.v3`); the rest of the node are that
component's parameters. `build` looks the name up here and calls the class with the parameters
it declares. Nothing else is ever imported or called: Hydra's `instantiate`, which imports any
dotted path it is given, is not used, so a config or artifact from elsewhere cannot run code.

A new version of a component that changes its results gets a new name (`logreg.v2`) and the old
one stays registered, so artifacts that name it keep loading. `ALIASES` maps what artifacts made
before the registry stored (Python paths, bare kinds) to the names that replaced them.
"""
from __future__ import annotations

import inspect
from collections.abc import Mapping

from .errors import InputError

KINDS = ("ingest", "segmenter", "embedder", "linker", "classifier")
_REGISTRY: dict[str, dict[str, type]] = {kind: {} for kind in KINDS}

# Names stored by artifacts of format v1 (module paths of the code before the registry). The v1 linkers
# and classifiers were retired with the catalog-derived linker (lexicon.v2, rules.v1): an artifact that
# names them fails with one line asking for a retrain.
ALIASES = {
    "ingest": {"pipeline.ingest.Reader": "reader.v1"},
    "segmenter": {},
    "linker": {},
    "classifier": {},
    "embedder": {},
}


def register(kind: str, name: str):
    """Class decorator: make `cls` buildable as `_target_: name` in the `kind` config group."""
    if kind not in _REGISTRY:
        raise ValueError(f"unknown component kind '{kind}' (expected one of {', '.join(KINDS)})")

    def decorate(cls):
        known = _REGISTRY[kind].get(name)
        if known is not None and known is not cls:
            raise ValueError(f"{kind} '{name}' is registered twice ({known.__qualname__}, {cls.__qualname__})")
        _REGISTRY[kind][name] = cls
        cls.component = name
        return cls

    return decorate


def names(kind: str) -> list[str]:
    return sorted(_REGISTRY[kind])


def resolve(kind: str, name, where="config") -> type:
    """The class registered as `name` (or an alias of it) for `kind`; one-line InputError otherwise."""
    if not isinstance(name, str) or not name:
        raise InputError(where, f"{kind} names no component: set _target_ to one of {', '.join(names(kind))}")
    found = _REGISTRY[kind].get(ALIASES[kind].get(name, name))
    if found is None:
        raise InputError(where, f"unknown {kind} '{name}': only registered components can be named "
                                f"({', '.join(names(kind))})")
    return found


def name_of(kind: str, name: str) -> str:
    """The registered name an alias stands for (the name itself when it is one)."""
    return ALIASES[kind].get(name, name)


def parameters(cls) -> list[str]:
    sig = inspect.signature(cls.__init__)
    return [p for p, v in sig.parameters.items() if p != "self" and v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)]


def build(kind: str, node: Mapping, where="config", **injected):
    """An instance of the component `node` names, with `node`'s other keys as its parameters.

    `injected` are the components the core hands in (a classifier's linker); a config can't name
    one inside another's parameters. Unknown parameters are refused rather than ignored.
    """
    if not isinstance(node, Mapping):
        raise InputError(where, f"the {kind} config must be a mapping, got {type(node).__name__}")
    params = dict(node)
    cls = resolve(kind, params.pop("_target_", None), where)
    allowed = set(parameters(cls))
    unknown = sorted(k for k in params if k not in allowed)
    if unknown:
        raise InputError(where, f"{kind} '{cls.component}' has no parameter(s) {', '.join(unknown)} "
                                f"(it takes {', '.join(sorted(allowed - set(injected))) or 'none'})")
    for key, value in params.items():
        if isinstance(value, Mapping) and "_target_" in value:
            raise InputError(where, f"{kind} parameter '{key}' names a component: components are not nested "
                                    f"in configs")
    return cls(**params, **injected)
