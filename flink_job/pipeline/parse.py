"""Flink adapter: the parse/validate step as a Python scalar UDF (vectorised by PyFlink's runner)."""

from __future__ import annotations

import time

from pyflink.common import Row
from pyflink.table import DataTypes
from pyflink.table.udf import ScalarFunction, udf

from flink_job.core.records import SENSORS, parse_reading

PARSED_FIELDS = [
    DataTypes.FIELD("error", DataTypes.STRING()),
    DataTypes.FIELD("device_id", DataTypes.STRING()),
    DataTypes.FIELD("ts", DataTypes.BIGINT()),
    *(DataTypes.FIELD(s, DataTypes.DOUBLE()) for s in SENSORS),
]


class ParseReading(ScalarFunction):
    """ROW(error, device_id, ts, <sensors>): error is NULL for a valid reading."""

    def __init__(self, max_future_ms: int) -> None:
        self._max_future_ms = max_future_ms

    def eval(self, line: str) -> Row:
        res = parse_reading(line, int(time.time() * 1000), self._max_future_ms)
        r = res.reading
        if r is None:
            return Row(res.error, None, None, None, None, None)
        return Row(None, r.device_id, r.ts_ms, r.temperature, r.pressure, r.vibration)


def parse_udf(max_future_ms: int):  # noqa: ANN201 - a PyFlink UserDefinedFunctionWrapper
    return udf(ParseReading(max_future_ms), result_type=DataTypes.ROW(PARSED_FIELDS))
