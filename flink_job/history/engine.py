"""The named queries over a local archive, with DuckDB (embedded, pinned in pyproject.toml).

The archive is a folder laid out as the job writes it (``raw/``, ``anomalies/``, ``dead-letters/``,
each ``dt=YYYY-MM-DD/hr=HH/part-*.jsonl.gz``), or an ``s3://bucket/prefix/`` on the local AWS
emulator, which is copied to a temporary folder first (DuckDB's S3 support would download an
extension, and these machines have no internet). Each table of ``catalog.TABLES`` becomes a view
with exactly the catalogue's columns, so a query that runs here runs on Athena.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flink_job.history.catalog import PARTITIONS, TABLES, Table
from flink_job.history.queries import QUERIES

_DUCK_TYPES = {"string": "VARCHAR", "bigint": "BIGINT", "double": "DOUBLE", "boolean": "BOOLEAN",
               "array<string>": "VARCHAR[]", "map<string,double>": "MAP(VARCHAR, DOUBLE)"}
PART_GLOB = "dt=*/hr=*/part-*"  # in-progress files are hidden (.part-...): never read


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple]

    def table(self) -> str:
        """The rows as an aligned text table."""
        cells = [self.columns, *[["" if v is None else str(v) for v in r] for r in self.rows]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def _columns_sql(table: Table) -> str:
    return "{" + ", ".join(f"'{name}': '{_DUCK_TYPES[typ]}'" for name, typ in table.columns) + "}"


def connect(archive: Path) -> Any:  # duckdb.DuckDBPyConnection
    """An in-memory DuckDB with one view per catalogue table over the archive folder."""
    import duckdb

    con = duckdb.connect()
    for table in TABLES:
        folder = archive / table.folder
        if any(folder.glob(PART_GLOB)):
            names = ", ".join(n for n, _ in (*table.columns, *PARTITIONS))
            con.execute(
                f"CREATE VIEW {table.name} AS SELECT {names} "
                f"FROM read_json('{folder.as_posix()}/{PART_GLOB}', format = 'newline_delimited', "
                f"compression = 'gzip', columns = {_columns_sql(table)}, hive_partitioning = true, "
                "hive_types_autocast = false)"
            )
        else:  # nothing archived yet: an empty table with the same columns
            cols = ", ".join(f"{n} {_DUCK_TYPES[t]}" for n, t in (*table.columns, *PARTITIONS))
            con.execute(f"CREATE TABLE {table.name} ({cols})")
    return con


def run(con: Any, name: str, **params: Any) -> Result:
    """Run named query ``name`` with its parameters (see ``queries``)."""
    query = QUERIES[name]
    missing = [p for p in query.params if p not in params]
    if missing:
        raise ValueError(f"query {name!r} needs {', '.join(sorted(set(missing)))}")
    cur = con.execute(query.sql, [params[p] for p in query.params])
    return Result([d[0] for d in cur.description], cur.fetchall())


TABLE_FOLDERS = tuple(t.folder for t in TABLES)


def fetch_s3_archive(
    client: Any, url: str, target: Path | None = None, folders: Sequence[str] = TABLE_FOLDERS
) -> Path:
    """Copy the tables' objects under ``s3://bucket/prefix/`` to ``target`` (default: a temporary
    folder); returns it."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    prefix = prefix.rstrip("/") + "/" if prefix else ""
    target = target or Path(tempfile.mkdtemp(prefix="iot-archive-"))
    for folder in folders:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}{folder}/")
        for page in pages:
            for obj in page.get("Contents", []):
                dest = target / obj["Key"][len(prefix):]
                dest.parent.mkdir(parents=True, exist_ok=True)
                client.download_file(bucket, obj["Key"], str(dest))
    return target
