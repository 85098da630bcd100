"""Finding another Python on this machine: the core and the notes must still run on 3.8, and the MSF
zip's compiled core is built with a CPython 3.12 (`localdev.native --msf`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path


def find_python(version: str = "3.8") -> str | None:
    """A working interpreter of ``version`` (e.g. "3.8"), or None: pyenv's real binaries first (its
    shim fails unless that version is activated), then one on PATH."""
    roots = [Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))]
    pyenv = shutil.which("pyenv")
    if pyenv:
        roots.append(Path(subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()))
    pattern = f"versions/{version}.*/bin/python{version}"
    candidates = [str(p) for root in roots for p in sorted(root.glob(pattern))]
    candidates += [c for c in (shutil.which(f"python{version}"),) if c]
    check = f"import sys; assert sys.version_info[:2] == {tuple(int(x) for x in version.split('.'))}"
    for exe in dict.fromkeys(candidates):
        if subprocess.run([exe, "-c", check], capture_output=True).returncode == 0:
            return exe
    return None
