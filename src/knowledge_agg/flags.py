"""The one registry of feature flags: defaults, the ``KNOWLEDGE_AGG_FLAGS`` override, per-run overrides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .errors import FlagError

__all__ = ["Flag", "FLAGS", "check_extras", "parse_flags", "resolve_flags"]


@dataclass(frozen=True)
class Flag:
    name: str
    default: bool
    description: str


FLAGS: dict[str, Flag] = {
    f.name: f
    for f in (
        Flag("streaming", True, "emit each event as soon as it happens (off: buffer until done)"),
        Flag("memory_tracking", False, "measure peak memory per run with tracemalloc"),
        Flag("error_injection", False, "let the server inject search and page failures"),
        Flag("content_fetch", True, "read the selected pages (off: rank the snippets only)"),
        Flag("synthesis", True, "write the cited synthesis at the end of a run"),
        Flag("semantic", True, "search and choose sources by meaning with all-MiniLM-L6-v2 (off: by words alone)"),
        Flag("static", False, "with semantic off, the local index also searches by meaning with its shipped static table"),
        Flag("pool", False, "sources after the first may also come from the local index's candidates beyond its results"),
    )
}

_ON = {"on", "true", "1", "yes"}
_OFF = {"off", "false", "0", "no"}


def parse_flags(spec: str | Mapping[str, bool | str] | None) -> dict[str, bool]:
    """Parse ``"a=on,b=off"`` (or a mapping) into ``{name: bool}``; a bare name means on."""
    if not spec:
        return {}
    items = spec.items() if isinstance(spec, Mapping) else _split(spec)
    out: dict[str, bool] = {}
    for name, value in items:
        name = name.strip()
        if name not in FLAGS:
            known = ", ".join(sorted(FLAGS))
            raise FlagError(f"unknown feature flag {name!r}; known flags: {known}")
        if isinstance(value, bool):
            out[name] = value
        elif value.strip().lower() in _ON:
            out[name] = True
        elif value.strip().lower() in _OFF:
            out[name] = False
        else:
            raise FlagError(f"flag {name!r} takes on or off, not {value!r}")
    return out


def _split(spec: str) -> list[tuple[str, str]]:
    pairs = []
    for part in spec.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        pairs.append((name, value if sep else "on"))
    return pairs


def resolve_flags(*layers: str | Mapping[str, bool | str] | None) -> dict[str, bool]:
    """Defaults, then each layer in turn (env, server, run): the last one that names a flag wins."""
    flags = {name: f.default for name, f in FLAGS.items()}
    for layer in layers:
        flags.update(parse_flags(layer))
    return flags


def check_extras(flags: Mapping[str, bool]) -> None:
    """Raise :class:`~knowledge_agg.errors.MissingDependency` when a flag that is on needs an extra that is not
    installed: ``semantic`` its model's packages, else ``static`` numpy (lookups: nothing is imported)."""
    if flags.get("semantic"):
        from . import semantic

        semantic.check()
    elif flags.get("static"):
        from . import static

        static.check()
