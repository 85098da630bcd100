"""Pure-Python detection core (no PyFlink import): static thresholds, windowed detectors, alert policy.

The Flink job, backfills, NAB evaluation and notebooks all run `SeriesMonitor`.  ``localdev.native``
may compile its modules with mypyc (the same source, ~4x faster); a compiled module older than its
source refuses to import, so readings are never judged by code that is no longer in the tree.
"""

import importlib.machinery as _machinery
from pathlib import Path as _Path


def stale_modules() -> list:
    """Source files of this package edited after their compiled module (this interpreter's) was built."""
    here = _Path(__file__).parent
    suffix = _machinery.EXTENSION_SUFFIXES[0]
    out = []
    for compiled in here.glob("*" + suffix):
        source = here / (compiled.name[: -len(suffix)] + ".py")
        if source.exists() and source.stat().st_mtime > compiled.stat().st_mtime:
            out.append(source.name)
    return sorted(out)


if stale_modules():
    raise ImportError(
        f"flink_job/core/detection: compiled modules are older than their sources "
        f"({', '.join(stale_modules())}): run `make native` (or `python -m localdev.native`; "
        "`python -m localdev.native --clean` runs pure Python)")


# after the check: a stale compiled module must not even load
from flink_job.core.detection.config import DetectionConfig, ThresholdConfig  # noqa: E402
from flink_job.core.detection.monitor import SeriesMonitor, Verdict  # noqa: E402

__all__ = ["DetectionConfig", "SeriesMonitor", "ThresholdConfig", "Verdict"]
