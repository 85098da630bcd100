"""Shared fixtures: the one jar (built with Gradle when missing or stale)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
JAR = REPO / "build" / "libs" / "pyflink-dependencies.jar"


def _jar_is_stale() -> bool:
    if not JAR.exists():
        return True
    built = JAR.stat().st_mtime
    sources = [REPO / "build.gradle", *(REPO / "connectors" / "java" / "src" / "main").rglob("*.java")]
    return any(p.stat().st_mtime > built for p in sources if p.exists())


@pytest.fixture(scope="session")
def uber_jar() -> Path:
    if _jar_is_stale():
        gradle = shutil.which("gradle")
        if gradle is None:
            pytest.fail("gradle is not installed: run 'make jars' (or 'make test', which installs it)")
        cmd = [gradle, "--no-daemon", "-q", "uberJar", "localPlugins"]
        subprocess.run(cmd, cwd=REPO, check=True, timeout=900)
    return JAR
