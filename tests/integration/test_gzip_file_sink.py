"""Integration: a bounded PyFlink job writes 1,000 lines with ``gzip_lines_file_sink``.

Needs ``build/libs/pyflink-dependencies.jar`` (the ``uber_jar`` fixture in tests/conftest.py builds it
with Gradle when missing/stale).
"""

from __future__ import annotations

import gzip
import re

import pytest

pytestmark = pytest.mark.integration


def test_gzip_lines_file_sink_writes_all_lines_into_finished_hourly_buckets(flink_env, tmp_path):
    from pyflink.common import Types
    from pyflink.datastream import RuntimeExecutionMode

    from connectors.files import gzip_lines_file_sink

    env = flink_env()
    env.set_runtime_mode(RuntimeExecutionMode.STREAMING)
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
