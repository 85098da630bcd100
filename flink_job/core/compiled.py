"""The record of a compiled build of the detection core (``localdev.native``): which sources, by
content, this interpreter's compiled modules were built from.

Kept outside ``flink_job.core.detection`` because that package checks the record when it is imported,
and the build must be able to read and write it while the package refuses to import.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent / "detection"


def extension_suffix() -> str:
    """This interpreter's suffix for extension modules, e.g. ``.cpython-311-x86_64-linux-gnu.so``."""
    return importlib.machinery.EXTENSION_SUFFIXES[0]


def record_path(suffix: str | None = None) -> Path:
    """Where the build for one interpreter (by its extension suffix) records {source name: sha256}."""
    return PACKAGE / ("compiled" + (suffix or extension_suffix()).rsplit(".", 1)[0] + ".json")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_record(sources: dict[str, str]) -> None:
    record_path().write_text(json.dumps(sources, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def stale_modules() -> list[str]:
    """Sources whose content differs from what this interpreter's compiled modules were built from
    (by content, not mtime: copied and unzipped trees keep no reliable mtimes); [] when none is
    compiled."""
    suffix = extension_suffix()
    compiled = sorted(PACKAGE.glob("*" + suffix))
    if not compiled:
        return []
    try:
        built_from = json.loads(record_path(suffix).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        built_from = {}
    out = []
    for module in compiled:
        source = PACKAGE / (module.name[: -len(suffix)] + ".py")
        if source.exists() and built_from.get(source.name) != digest(source):
            out.append(source.name)
    return out
