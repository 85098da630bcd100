"""Flink adapter for the typed output records: row types named after the records' fields, and the
two conversions (record -> row on the way out of detection, row -> record in the sinks)."""

from __future__ import annotations

import typing
import zlib
from typing import Any, NamedTuple, TypeVar

from pyflink.common import Row, Types
from pyflink.common.typeinfo import TypeInformation
from pyflink.datastream import DataStream, OutputTag

from flink_job.core.outputs import Anomaly, ScoredReading

R = TypeVar("R", bound=NamedTuple)

_FLINK_TYPES = {
    str: Types.STRING, int: Types.LONG, float: Types.DOUBLE, bool: Types.BOOLEAN,
}  # fmt: skip


def row_type(record: type[NamedTuple]) -> TypeInformation:
    """ROW_NAMED with the record's field names and types (Optional[float] -> DOUBLE, nullable)."""
    hints = typing.get_type_hints(record)
    return Types.ROW_NAMED(list(record._fields), [_FLINK_TYPES[_base(hints[f])]() for f in record._fields])


def _base(hint: Any) -> type:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def to_row(record: NamedTuple) -> Row:
    return Row(**record._asdict())


def typed(record: type[R], row: Row) -> R:
    """The record a row carries; a row whose field names are not the record's is a wiring error."""
    names = getattr(row, "_fields", None)
    if names is not None and tuple(names) != record._fields:
        raise TypeError(f"row fields {names} are not those of {record.__name__} {record._fields}")
    return record(*row)


ANOMALY_TYPE = row_type(Anomaly)
READING_TYPE = row_type(ScoredReading)

# Sink writers' share of the load: rows are keyed into SINK_KEYS buckets by a deterministic hash
# (not Python's salted one), computed where the row is made so the JVM can key it.
SINK_KEYS = 4


def bucket_of(device_id: str) -> int:
    return zlib.crc32(device_id.encode("utf-8")) % SINK_KEYS


# Alert onsets as (sink bucket, anomaly row) pairs: keyed in the JVM, no Python hop before the writer.
ALERT_PAIR_TYPE = Types.ROW([Types.INT(), ANOMALY_TYPE])


def side_output(stream: DataStream, tag: OutputTag) -> DataStream:
    """The side output ``tag`` of a Python operator, as the JVM stream it is (typed by the tag).

    PyFlink's ``get_side_output`` appends an identity Python map: one more Python operator, whose
    bundle holds each element up to ``python_bundle_time_ms``, for nothing."""
    return DataStream(stream._j_data_stream.getSideOutput(tag.get_java_output_tag()))
