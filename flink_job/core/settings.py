"""How a runtime property is declared, parsed and checked (pure Python, 3.8-safe).

A property group is a frozen dataclass whose public fields are declared with :func:`setting`: the
one spelling of the key in the property map (default: the field name), the default (its type is
the setting's type; a tuple is a comma-separated list), the allowed values and a one-line
description. :func:`load` builds the dataclass from a map of strings; an unknown key is an error
naming the nearest known one. ``flink_job.core.schema`` collects the groups.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flink_job.core.errors import ConfigError


def setting(default: Any, doc: str, *, key: str | None = None, allowed: Iterable[str] = ()) -> Any:
    """A dataclass field that is a runtime property (``key`` if its spelling is not the field name)."""
    return dataclasses.field(default=default, metadata={"doc": doc, "key": key, "allowed": tuple(allowed)})


@dataclass(frozen=True)
class Key:
    """One property of one group, as the schema states it."""

    name: str  # the spelling in the property map
    field: str  # the attribute of the group's dataclass
    type: type
    default: Any
    doc: str
    allowed: tuple[str, ...] = ()

    def default_text(self) -> str:
        """The default as a property value (what a property map would hold)."""
        return format_value(self.default)


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def keys_of(cls: type) -> list[Key]:
    """The declared properties of a group dataclass, in declaration order."""
    out = []
    for f in dataclasses.fields(cls):
        if "doc" not in f.metadata:
            continue  # derived or internal, not a property
        out.append(Key(f.metadata["key"] or f.name, f.name, type(f.default), f.default, f.metadata["doc"],
                       f.metadata["allowed"]))
    return out


def nearest(key: str, known: Iterable[str]) -> str | None:
    """The known key closest to ``key`` (also across '.' and '_'), or None when none is close."""
    known = list(known)
    norm = {k.replace(".", "_").lower(): k for k in known}
    hit = norm.get(key.replace(".", "_").lower())
    if hit:
        return hit
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_key(group: str, key: str, known: Iterable[str]) -> ConfigError:
    near = nearest(key, known)
    hint = f"; did you mean '{near}'?" if near else ""
    return ConfigError(group, key, f"unknown key{hint} (known: {', '.join(sorted(known))})")


def parse_value(group: str, key: str, raw: Any, typ: type) -> Any:
    """A property string as ``typ`` (bool, int, float, str, or tuple = comma-separated strings)."""
    text = str(raw).strip()
    try:
        if typ is bool:
            low = text.lower()
            if low in ("true", "1", "yes"):
                return True
            if low in ("false", "0", "no"):
                return False
            raise ValueError(text)
        if typ is int:
            return int(text.replace("_", ""))
        if typ is float:
            return float(text)
        if typ is tuple:
            return tuple(p.strip() for p in text.split(",") if p.strip())
        if typ is str:
            return text  # surrounding blanks are never meant
    except ValueError:
        raise ConfigError(group, key, f"expected {_type_name(typ)}, got {raw!r}") from None
    raise ConfigError(group, key, f"unsupported type {typ}")  # pragma: no cover - a programming error


def _type_name(typ: type) -> str:
    return {bool: "true or false", tuple: "a comma-separated list"}.get(typ, typ.__name__)


def type_name(typ: type) -> str:
    """How the reference table names a setting's type."""
    return {bool: "bool", tuple: "list", str: "string"}.get(typ, typ.__name__)


def parse_group(cls: type, props: Mapping[str, Any], group: str) -> dict[str, Any]:
    """Field values for ``cls`` from a property map: keys checked, values parsed and checked."""
    by_key = {k.name: k for k in keys_of(cls)}
    kwargs: dict[str, Any] = {}
    for key, raw in props.items():
        spec = by_key.get(key)
        if spec is None:
            raise unknown_key(group, key, by_key)
        value = parse_value(group, key, raw, spec.type)
        if spec.allowed:
            for item in value if isinstance(value, tuple) else (value,):
                if item not in spec.allowed:
                    raise ConfigError(group, key, f"{item!r} is not one of {', '.join(spec.allowed)}")
        kwargs[spec.field] = value
    return kwargs


def load(cls: type, props: Mapping[str, Any], group: str) -> Any:
    """Build group dataclass ``cls`` from a property map and run its ``validate(group)``."""
    obj = cls(**parse_group(cls, props, group))
    validate = getattr(obj, "validate", None)
    if validate:
        validate(group)
    return obj


def check_keys(cls: type, props: Mapping[str, Any], group: str) -> dict[str, str]:
    """``props`` with every key checked against ``cls`` (values untouched, as strings): for writers of
    property maps (infra, local runs, tests) whose values may not be known yet."""
    known = [k.name for k in keys_of(cls)]
    for key in props:
        if key not in known:
            raise unknown_key(group, key, known)
    return {k: format_value(v) if not isinstance(v, str) else v for k, v in props.items()}
