"""Compile the detection core with mypyc: the same source, about 4x faster per reading.

``python -m localdev.native`` compiles the modules of ``flink_job/core/detection`` (all but the
configuration, which builds its dataclass at import) for this interpreter and puts the extension
modules beside their sources, as an installed mypyc wheel would; Python imports an extension module
before a source file of the same name. The Python workers of a local run, the tests and the benchmarks
then run the compiled core. ``--clean`` removes them (pure Python again). The MSF zip ships sources only
(its Python is 3.12, and an extension built here is for this interpreter).

The build records the digest of every source it compiled; a source whose content differs from that
record makes ``flink_job.core.detection`` refuse to import (``stale_modules``) until the build runs
again, so a stale compiled module can never judge readings in place of the code you read. ``make``
rebuilds when a source changes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from flink_job.core import compiled  # not the detection package: that refuses to import while stale

REPO = Path(__file__).resolve().parents[1]
PACKAGE = compiled.PACKAGE
NOT_COMPILED = ("__init__.py", "config.py")
GROUP = "flink_job.core.detection"  # mypyc's shared runtime: flink_job/core/detection__mypyc.*.so
BUILD_TEMP = REPO / "build" / "native"


def sources() -> list[Path]:
    """The modules compiled (sorted)."""
    return sorted(p for p in PACKAGE.glob("*.py") if p.name not in NOT_COMPILED)


def built() -> list[Path]:
    """Extension modules of this interpreter in the package (and the group's runtime beside it)."""
    suffix = compiled.extension_suffix()
    return sorted([*PACKAGE.glob(f"*{suffix}"), *PACKAGE.parent.glob(f"detection__mypyc*{suffix}")])


def clean() -> int:
    removed = built()
    for path in removed:
        path.unlink()
    compiled.record_path().unlink(missing_ok=True)
    shutil.rmtree(BUILD_TEMP, ignore_errors=True)
    return len(removed)


def build() -> list[Path]:
    """Compile ``sources()`` in place; returns the extension modules written."""
    from mypyc.build import mypycify  # dev dependency (mypy); imported here so --help needs none
    from setuptools import Distribution

    clean()
    todo = sources()
    # the digests of what is compiled, taken before compiling (an edit meanwhile then reads as stale)
    digests = {p.name: compiled.digest(p) for p in todo}
    cwd = Path.cwd()
    os.chdir(REPO)  # mypycify's paths and the C it generates are relative to the repository
    try:
        paths = [str(p.relative_to(REPO)) for p in todo]
        # follow-imports=silent: the modules they import (config, settings) are read for types only
        extensions = mypycify(["--follow-imports=silent", *paths], group_name=GROUP, opt_level="3")
        # a bare Distribution, not setup(): the repository's pyproject.toml describes the project
        dist = Distribution({"name": "iot-anomaly-native", "ext_modules": extensions})
        cmd = dist.get_command_obj("build_ext")
        cmd.inplace = True
        cmd.build_temp = str(BUILD_TEMP)
        cmd.build_lib = str(BUILD_TEMP / "lib")
        dist.run_command("build_ext")
    finally:
        os.chdir(cwd)
    compiled.write_record(digests)
    return built()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m localdev.native", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clean", action="store_true", help="remove the compiled modules (pure Python again)")
    args = ap.parse_args(argv)
    if args.clean:
        print(f"removed {clean()} compiled modules")
        return 0
    t0 = time.monotonic()
    expected = len(sources()) + 1  # the modules and mypyc's shared runtime
    print(f"compiling {expected - 1} modules of {PACKAGE.relative_to(REPO)} with mypyc "
          f"for Python {sys.version_info.major}.{sys.version_info.minor} ...", flush=True)
    out = build()
    if len(out) != expected:
        print(f"expected {expected} extension modules, found {len(out)}", file=sys.stderr)
        return 1
    print(f"compiled {len(out) - 1} modules in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
