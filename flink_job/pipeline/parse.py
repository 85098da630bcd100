"""Flink adapter: the parse/validate step as a vectorised (pandas) Python UDF."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from pyflink.table import DataTypes
from pyflink.table.udf import ScalarFunction, udf

from flink_job.core.records import SENSORS, dead_letter, parse_reading

PARSED_FIELDS = [
    DataTypes.FIELD("error", DataTypes.STRING()),
    # the canonical one-line JSON of a valid reading, or the dead-letter JSON of a refused record
    DataTypes.FIELD("payload", DataTypes.STRING()),
    DataTypes.FIELD("device_id", DataTypes.STRING()),
    DataTypes.FIELD("ts", DataTypes.BIGINT()),
    *(DataTypes.FIELD(s, DataTypes.DOUBLE()) for s in SENSORS),
]


class ParseReadings(ScalarFunction):
    """Vectorised form: a pandas Series of lines in, one DataFrame of parsed columns out.

    Arrow batches carry thousands of lines per crossing into Python, so per line little more than
    the parsing itself remains (~4.5 us, 220k lines/s measured in pure Python).
    """

    def __init__(self, max_future_ms: int) -> None:
        self._max_future_ms = max_future_ms

    def eval(self, lines):  # noqa: ANN001, ANN201 - pandas.Series -> pandas.DataFrame
        import pandas as pd

        wall = time.time()
        now = int(wall * 1000)
        received_at = datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")
        names = ("error", "payload", "device_id", "ts", *SENSORS)
        cols: dict[str, list] = {name: [] for name in names}
        for line in lines:
            res = parse_reading(line, now, self._max_future_ms)
            r = res.reading
            cols["error"].append(res.error)
            cols["payload"].append(res.canonical if r else dead_letter(res, line, received_at))
            cols["device_id"].append(r.device_id if r else None)
            cols["ts"].append(r.ts_ms if r else None)
            for s in SENSORS:
                cols[s].append(getattr(r, s) if r else None)
        return pd.DataFrame(
            {
                "error": cols["error"],
                "payload": cols["payload"],
                "device_id": cols["device_id"],
                "ts": pd.Series(cols["ts"], dtype=object),
                # None -> NaN -> NULL on the way to Arrow (PyFlink masks nulls); valid readings are never NaN
                **{s: pd.Series(cols[s], dtype="float64") for s in SENSORS},
            }
        )


def parse_udf(max_future_ms: int):  # noqa: ANN201 - UserDefinedFunctionWrapper
    return udf(ParseReadings(max_future_ms), result_type=DataTypes.ROW(PARSED_FIELDS), func_type="pandas")
