"""The named queries over the archive, in the SQL that Athena (Trino) and DuckDB both speak.

The stack creates them as Athena named queries (``infra/.../catalog.py``) and ``iot-anomaly history``
runs the same text locally: one definition, so the two cannot drift. Parameters are ``?``
placeholders, bound in order: ``day_from``/``day_to`` (YYYY-MM-DD, the ``dt`` partitions read),
``from_ms``/``to_ms`` (epoch ms) and ``device`` ('' = every device).
"""

from __future__ import annotations

from dataclasses import dataclass

DEVICE_FILTER = "(? = '' OR device_id = ?)"


@dataclass(frozen=True)
class Query:
    name: str
    doc: str
    sql: str
    params: tuple[str, ...]  # the parameter bound to each ?, in order


QUERIES: dict[str, Query] = {q.name: q for q in (
    Query(
        "device-readings",
        "readings of one device in a time range",
        "SELECT ts, temperature, pressure, vibration FROM readings "
        "WHERE device_id = ? AND dt BETWEEN ? AND ? AND ts BETWEEN ? AND ? ORDER BY ts",
        ("device", "day_from", "day_to", "from_ms", "to_ms"),
    ),
    Query(
        "anomalies-per-device-day",
        "anomaly rows and alerts per device and day",
        "SELECT dt AS day, device_id, count(*) AS anomalies, "
        "sum(CASE WHEN alert THEN 1 ELSE 0 END) AS alerts FROM anomalies "
        f"WHERE dt BETWEEN ? AND ? AND ts BETWEEN ? AND ? AND {DEVICE_FILTER} "
        "GROUP BY dt, device_id ORDER BY dt, alerts DESC, anomalies DESC, device_id",
        ("day_from", "day_to", "from_ms", "to_ms", "device", "device"),
    ),
    Query(
        "dead-letters-by-reason",
        "dead letters by reason (the reason up to its first colon)",
        "SELECT split_part(reason, ':', 1) AS reason, count(*) AS records FROM dead_letters "
        "WHERE dt BETWEEN ? AND ? GROUP BY split_part(reason, ':', 1) ORDER BY records DESC, reason",
        ("day_from", "day_to"),
    ),
    Query(
        "alert-rate-per-hour",
        "alerts per hour (the hour the job wrote them, UTC)",
        "SELECT dt AS day, hr AS hour, count(*) AS alerts FROM anomalies "
        f"WHERE alert AND dt BETWEEN ? AND ? AND ts BETWEEN ? AND ? AND {DEVICE_FILTER} "
        "GROUP BY dt, hr ORDER BY dt, hr",
        ("day_from", "day_to", "from_ms", "to_ms", "device", "device"),
    ),
)}
