"""The record of a compiled build of the detection core (``localdev.native``): which sources, by
content, this interpreter's compiled modules were built from.

Kept outside ``flink_job.core.detection`` because that package checks the record when it is imported,
and the build must be able to read and write it while the package refuses to import.

Compiled modules that are current but cannot load here (built for another CPU or C library than
MSF's, say) are not an error: the package then imports its sources (``import_sources``) and says so
in ``flink_job.core.detection.CORE``; the decisions are the same, only slower.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent / "detection"
RUNTIME = "flink_job.core.detection__mypyc"  # mypyc's shared library of the group (localdev.native)


def extension_suffix() -> str:
    """This interpreter's suffix for extension modules, e.g. ``.cpython-311-x86_64-linux-gnu.so``."""
    return importlib.machinery.EXTENSION_SUFFIXES[0]


def record_path(suffix: str | None = None) -> Path:
    """Where the build for one interpreter (by its extension suffix) records {source name: sha256}."""
    return PACKAGE / ("compiled" + (suffix or extension_suffix()).rsplit(".", 1)[0] + ".json")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_record(suffix: str | None = None) -> dict[str, str]:
    """{source name: sha256} of the build for one interpreter; {} when there is none (or unreadable)."""
    try:
        return json.loads(record_path(suffix).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


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
    built_from = read_record(suffix)
    out = []
    for module in compiled:
        source = PACKAGE / (module.name[: -len(suffix)] + ".py")
        if source.exists() and built_from.get(source.name) != digest(source):
            out.append(source.name)
    return out


def load_failure() -> str | None:
    """Why this interpreter's compiled modules cannot load here (e.g. built for another CPU), or None:
    they load, or there are none."""
    if not any(PACKAGE.glob("*" + extension_suffix())):
        return None
    try:
        importlib.import_module(RUNTIME)
    except ImportError as exc:  # a foreign ELF, a missing glibc symbol, a truncated file
        return f"{type(exc).__name__}: {exc}"
    return None


class _SourcesFirst(importlib.abc.MetaPathFinder):
    """Finds the detection modules' source files ahead of the extension modules beside them."""

    def find_spec(self, name, path=None, target=None):  # noqa: ANN001, ANN201 - importlib's protocol
        package, _, module = name.rpartition(".")
        source = PACKAGE / (module + ".py")
        if package == "flink_job.core.detection" and source.is_file():
            return importlib.util.spec_from_file_location(name, source)
        return None


def import_sources() -> None:
    """From now on, import the detection modules from their sources (pure Python)."""
    if not any(isinstance(f, _SourcesFirst) for f in sys.meta_path):
        sys.meta_path.insert(0, _SourcesFirst())
