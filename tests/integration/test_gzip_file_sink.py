"""Integration: a bounded PyFlink job writes 1,000 lines with ``gzip_lines_file_sink``.

Needs ``build/libs/pyflink-dependencies.jar``; built with Gradle on first use when missing/stale.
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
JAR = REPO / "build" / "libs" / "pyflink-dependencies.jar"
JAVA_SRC = REPO / "connectors" / "java" / "src" / "main"


def _jar_is_stale() -> bool:
    if not JAR.exists():
        return True
    built = JAR.stat().st_mtime
    sources = [REPO / "build.gradle", *JAVA_SRC.rglob("*.java")]
    return any(p.stat().st_mtime > built for p in sources if p.exists())


@pytest.fixture(scope="module")
def uber_jar() -> Path:
    if _jar_is_stale():
        gradle = shutil.which("gradle")
        if gradle is None:
            pytest.skip("gradle not on PATH and build/libs/pyflink-dependencies.jar missing or stale")
        subprocess.run(
            [gradle, "--no-daemon", "-q", "uberJar", "localPlugins"], cwd=REPO, check=True, timeout=600
        )
    assert JAR.exists()
    return JAR


def test_gzip_lines_file_sink_writes_all_lines_into_finished_hourly_buckets(uber_jar, tmp_path):
    from pyflink.common import Configuration, Types
    from pyflink.datastream import RuntimeExecutionMode, StreamExecutionEnvironment

    from connectors.files import gzip_lines_file_sink

    config = Configuration()
    config.set_string("python.executable", sys.executable)
    config.set_string("pipeline.jars", uber_jar.as_uri())
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_runtime_mode(RuntimeExecutionMode.STREAMING)
    env.set_parallelism(2)
    env.enable_checkpointing(500)

    lines = [f'{{"seq": {i}, "payload": "värde-{i}"}}' for i in range(1000)]
    out = tmp_path / "out"
    (
        env.from_collection(lines, type_info=Types.STRING())
        .sink_to(gzip_lines_file_sink(out.as_uri()))
        .name("gzip-lines")
    )
    env.execute("gzip-lines-file-sink-test")

    all_files = [p for p in out.rglob("*") if p.is_file()]
    finished = [p for p in all_files if p.name.endswith(".jsonl.gz") and not p.name.startswith(".")]
    # In-progress / pending part files are hidden (".part-...inprogress..."): none may remain.
    assert sorted(all_files) == sorted(finished), f"unfinished files left: {set(all_files) - set(finished)}"
    assert finished, "no part files written"
    for part in finished:
        rel = part.relative_to(out).parts
        assert len(rel) == 3, rel
        assert re.fullmatch(r"dt=\d{4}-\d{2}-\d{2}", rel[0]), rel
        assert re.fullmatch(r"hr=\d{2}", rel[1]), rel
        assert rel[2].startswith("part-"), rel

    read_back: list[str] = []
    for part in finished:
        with gzip.open(part, "rt", encoding="utf-8") as fh:
            read_back.extend(fh.read().splitlines())
    assert sorted(read_back) == sorted(lines)
