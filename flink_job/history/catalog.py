"""The archive as tables: what the job writes under ``<archive>/<folder>/dt=YYYY-MM-DD/hr=HH/`` as
gzip JSON lines, column by column (pure Python).

One definition serves the Glue tables the stack creates (``infra/.../catalog.py``, partition
projection on ``dt``/``hr``), the local engine (``flink_job.history.engine``, DuckDB) and the tests
that hold the columns to the JSON the job writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from flink_job.core.records import MEASUREMENTS, SENSORS

# Partition folders of every table (the file sink's bucket format, processing time, UTC).
PARTITIONS: tuple[tuple[str, str], ...] = (("dt", "string"), ("hr", "string"))
FIRST_DAY = "2025-01-01"  # the partition projection's first day


@dataclass(frozen=True)
class Table:
    name: str  # in Glue/Athena and in the local engine
    folder: str  # under the archive root
    columns: tuple[tuple[str, str], ...]  # (JSON field, Hive type)
    doc: str


TABLES: tuple[Table, ...] = (
    Table(
        "readings", "raw",
        (("device_id", "string"), ("ts", "bigint"), *((s, "double") for s in SENSORS),
         (MEASUREMENTS, "map<string,double>")),
        "valid readings as received (canonical JSON: ts in epoch ms; other named measurements in "
        "the measurements map)",
    ),
    Table(
        "anomalies", "anomalies",
        (
            ("alert_id", "string"), ("device_id", "string"), ("sensor", "string"), ("ts", "bigint"),
            ("time", "string"), ("value", "double"), ("score", "double"), ("severity", "string"),
            ("detectors", "array<string>"), ("anomalous", "boolean"), ("alert", "boolean"),
            ("reason", "string"),
        ),
        "readings (and devices) a detector flagged or inside an open episode; alert = the onset sent to SNS",
    ),
    Table(
        "dead_letters", "dead-letters",
        (("reason", "string"), ("record", "string"), ("record_base64", "string"), ("received_at", "string")),
        "records that are not valid readings, with the reason",
    ),
)  # fmt: skip
BY_NAME = {t.name: t for t in TABLES}
