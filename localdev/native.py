"""Compile the detection core with mypyc: the same source, about 4x faster per reading.

``python -m localdev.native`` compiles the modules of ``flink_job/core/detection`` (all but the
configuration, which builds its dataclass at import) for this interpreter and puts the extension
modules beside their sources, as an installed mypyc wheel would; Python imports an extension module
before a source file of the same name. The Python workers of a local run, the tests and the benchmarks
then run the compiled core. ``--clean`` removes them, every interpreter's (pure Python again).

The build records the digest of every source it compiled; a source whose content differs from that
record makes ``flink_job.core.detection`` refuse to import (``stale_modules``) until the build runs
again, so a stale compiled module can never judge readings in place of the code you read. The build
is skipped when the modules present were built from the sources as they are (``make native`` runs
it every time). Modules that cannot load on a machine leave the sources to run (``CORE`` says so).

``--python 3.12`` builds for another CPython of this machine (pyenv's or one on PATH), in a venv of
its own under ``build/native/`` with the pinned mypy and setuptools: ``make package`` ships those
modules in the MSF zip (MSF's Python is 3.12). Without that interpreter it removes that version's
modules, says so, and the zip runs the core as pure Python.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from flink_job.core import compiled  # not the detection package: that refuses to import while stale
from localdev.interpreters import find_python

REPO = Path(__file__).resolve().parents[1]
PACKAGE = compiled.PACKAGE
NOT_COMPILED = ("__init__.py", "config.py")
GROUP = "flink_job.core.detection"  # mypyc's shared runtime: flink_job/core/detection__mypyc.*.so
BUILD = REPO / "build" / "native"
BUILD_TEMP = BUILD / sys.implementation.cache_tag  # one per interpreter: they build side by side
PINNED = ("mypy", "setuptools")  # what the build needs, at the versions pyproject.toml pins


def sources() -> list[Path]:
    """The modules compiled (sorted)."""
    return sorted(p for p in PACKAGE.glob("*.py") if p.name not in NOT_COMPILED)


def built(suffix: str | None = None) -> list[Path]:
    """Extension modules of an interpreter (by suffix; default this one) in the package, and the
    group's runtime beside it."""
    suffix = suffix or compiled.extension_suffix()
    return sorted([*PACKAGE.glob(f"*{suffix}"), *PACKAGE.parent.glob(f"detection__mypyc*{suffix}")])


def current() -> bool:
    """True when every source is compiled for this interpreter, from the sources as they are now."""
    return len(built()) == len(sources()) + 1 and compiled.read_record() == source_digests()


def source_digests() -> dict[str, str]:
    """{name: sha256} of ``sources()`` as they are now: what a build records."""
    return {p.name: compiled.digest(p) for p in sources()}


def version_glob(version: str) -> str:
    """A glob for the extension suffix of CPython ``version`` on any platform (e.g. 3.12)."""
    return f".cpython-{version.replace('.', '')}-*.so"


def clean(suffix: str | None = None) -> int:
    """Remove the modules and record of an interpreter, by its extension suffix (default this one's;
    a glob such as ``.cpython-*.so`` for several), and this interpreter's build folder."""
    removed = built(suffix)
    for path in removed:
        path.unlink()
    for record in PACKAGE.glob(compiled.record_path(suffix).name):
        record.unlink()
    if suffix is None:
        shutil.rmtree(BUILD_TEMP, ignore_errors=True)
    return len(removed)


def build() -> list[Path]:
    """Compile ``sources()`` in place; returns the extension modules written."""
    from mypyc.build import mypycify  # dev dependency (mypy); imported here so --help needs none
    from setuptools import Distribution

    clean()
    todo = sources()
    # the digests of what is compiled, taken before compiling (an edit meanwhile then reads as stale)
    digests = source_digests()
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


def pins() -> list[str]:
    """The build's requirements as pyproject.toml pins them (``mypy==...``, ``setuptools==...``)."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    found = [m.group(1) for name in PINNED if (m := re.search(rf'"({name}==[^"]+)"', text))]
    if len(found) != len(PINNED):
        raise SystemExit(f"pyproject.toml pins no {' or '.join(PINNED)} (its dev dependencies)")
    return found


def build_for(version: str) -> int:
    """Build with CPython ``version`` of this machine in a venv of its own; without it, remove what
    an earlier build left for that version (a zip then ships sources only) and say so."""
    exe = find_python(version)
    if exe is None:
        # any platform's: a glob, as the exact suffix is the missing interpreter's to say
        removed = clean(version_glob(version))
        print(f"no CPython {version} on this machine (pyenv or PATH): the detection core for Python "
              f"{version} stays pure Python" + (f" (removed {removed} old modules)" if removed else ""))
        return 0
    venv = BUILD / f"venv-{version}"
    wanted = pins()
    stamp = venv / "pins.json"
    if not stamp.exists() or json.loads(stamp.read_text()) != wanted:
        print(f"making a Python {version} build venv in {venv.relative_to(REPO)} ({', '.join(wanted)}) ...",
              flush=True)
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([exe, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", *wanted], check=True)
        stamp.write_text(json.dumps(wanted))
    # the same command under that interpreter: it checks, builds and records for itself
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return subprocess.run([str(venv / "bin" / "python"), "-m", "localdev.native"], cwd=REPO,
                          env={**env, "PYTHONPATH": str(REPO)}).returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m localdev.native", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clean", action="store_true",
                    help="remove the compiled modules of every interpreter (pure Python again)")
    ap.add_argument("--python", metavar="X.Y",
                    help="build for this CPython version of the machine instead (make package: 3.12)")
    args = ap.parse_args(argv)
    if args.python is not None:
        if not re.fullmatch(r"3\.[0-9]{1,2}", args.python):
            ap.error(f"--python takes a CPython version such as 3.12, not {args.python!r}")
        return build_for(args.python)
    if args.clean:
        print(f"removed {clean() + clean('.cpython-*.so')} compiled modules")
        return 0
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    if current():
        print(f"the compiled detection core for Python {version} is up to date")
        return 0
    t0 = time.monotonic()
    expected = len(sources()) + 1  # the modules and mypyc's shared runtime
    print(f"compiling {expected - 1} modules of {PACKAGE.relative_to(REPO)} with mypyc "
          f"for Python {version} ...", flush=True)
    out = build()
    if len(out) != expected:
        print(f"expected {expected} extension modules, found {len(out)}", file=sys.stderr)
        return 1
    print(f"compiled {len(out) - 1} modules in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
