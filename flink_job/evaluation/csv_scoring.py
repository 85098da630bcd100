"""Score any CSV time series with the production detectors.

Input: a timestamp column plus one or more numeric columns, read as the sensors of one device (column
name = sensor name, so a "temperature" column gets the temperature thresholds).

- Device mode (default): one `DeviceMonitor` over the file, as the job runs a device: every column's
  SeriesMonitor plus one multivariate model over all value columns.  ``baseline_rows`` sets the
  commissioning period (default: the detection config's ``baseline_readings``).
- Per-column mode (``per_column``): one SeriesMonitor per column, no joint model.

Output: one row per input row with `timestamp, score, anomalous, alert` (combined: max score, any open
episode, any alert), `model_score` and `top_sensors` (device mode: the columns behind the joint score),
and `<column>_score` per column, then `note`.  An empty cell is a missing reading: that column skips the
row (and the joint model, which needs every column, skips it too).  Rows are judged in file order, as
the job judges a device's readings in arrival order: a row older than the newest row judged so far is
set aside (scores 0, ``note`` says why; ``flink_job.core.detection.order``), as the job sets it aside.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from flink_job.core.detection import DetectionConfig, SeriesMonitor, ThresholdConfig
from flink_job.core.detection.device import DeviceMonitor
from flink_job.core.detection.order import aside_reason, behind_ms


class InputError(ValueError):
    """Unusable input; the message names the file row (1-based, header = row 1) and column."""


def parse_timestamp(text: str, row: int, column: str) -> int:
    """Epoch milliseconds from ISO-8601 text (naive = UTC) or an epoch number (s if < 1e11, else ms)."""
    s = text.strip()
    try:
        num = float(s)
    except ValueError:
        pass
    else:
        if not math.isfinite(num):
            raise InputError(f"row {row}, column '{column}': timestamp {text!r} is not finite")
        return int(num * 1000) if abs(num) < 1e11 else int(num)
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"row {row}, column '{column}': cannot parse timestamp {text!r} "
                         "(expected ISO-8601 or epoch seconds/milliseconds)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def load_config(path: Path | None) -> tuple[DetectionConfig, ThresholdConfig]:
    """Configs from a JSON file: MSF runtime-properties shape ([{PropertyGroupId, PropertyMap}]),
    {"detection": {...}, "thresholds": {...}}, or a flat map of detection properties."""
    if path is None:
        return DetectionConfig(), ThresholdConfig()
    try:
        data: Any = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"config {path}: {e}") from None
    groups: dict[str, Mapping[str, Any]] = {}
    if isinstance(data, list):
        groups = {g["PropertyGroupId"]: g.get("PropertyMap", {}) for g in data}
    elif isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()):
        groups = data
    elif isinstance(data, dict):
        groups = {"detection": data}
    else:
        raise InputError(f"{path}: expected a JSON object or a list of property groups")
    det = {k: str(v) for k, v in groups.get("detection", {}).items()}
    thr = {k: str(v) for k, v in groups.get("thresholds", {}).items()}
    return DetectionConfig.from_properties(det), ThresholdConfig.from_properties(thr)


def score_rows(reader: Iterator[list[str]], header: list[str], timestamp_column: str,
               detection: DetectionConfig, thresholds: ThresholdConfig,
               device_id: str = "csv", per_column: bool = False) -> Iterator[list[Any]]:
    """Yield output rows (timestamp, score, anomalous, alert, model score, top sensors, per-column scores)."""
    if timestamp_column not in header:
        raise InputError(f"row 1: no timestamp column '{timestamp_column}' (columns: {', '.join(header)})")
    t_idx = header.index(timestamp_column)
    cols = [(i, name) for i, name in enumerate(header) if i != t_idx]
    if not cols:
        raise InputError("row 1: no value columns besides the timestamp")
    if per_column:
        monitors = {name: SeriesMonitor(device_id, name, detection, thresholds) for _, name in cols}
    else:
        device = DeviceMonitor(device_id, detection, thresholds)
    width = len(header)
    newest: int | None = None
    for row_no, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != width:
            raise InputError(f"row {row_no}: expected {width} fields, got {len(row)}")
        ts = parse_timestamp(row[t_idx], row_no, timestamp_column)
        values = {name: _number(row[i], row_no, name) for i, name in cols if row[i].strip()}
        behind = behind_ms(newest, ts) if values else 0
        if behind:
            yield [row[t_idx], f"{0.0:.6f}", 0, 0, f"{0.0:.6f}", "", *(f"{0.0:.6f}" for _ in cols),
                   aside_reason(behind, newest)]  # type: ignore[arg-type]
            continue
        if values:
            newest = ts
        if per_column:
            parts = {name: monitors[name].update(ts, x) for name, x in values.items()}
            model_score, top = 0.0, ""
        else:
            verdict = device.update(ts, values)
            parts = verdict.parts
            model_score = verdict.model.score if verdict.model is not None else 0.0
            top = " ".join(f"{n}:{share:.2f}" for n, share in verdict.contributors)
        score = max((v.score for v in parts.values()), default=0.0)
        anomalous = any(v.anomalous for v in parts.values())
        alert = any(v.alert for v in parts.values())
        per = [parts[name].score if name in parts else 0.0 for _, name in cols]
        yield [row[t_idx], f"{score:.6f}", int(anomalous), int(alert), f"{model_score:.6f}", top,
               *(f"{x:.6f}" for x in per), ""]


def _number(cell: str, row_no: int, name: str) -> float:
    text = cell.strip()
    try:
        x = float(text)
    except ValueError:
        raise InputError(f"row {row_no}, column '{name}': cannot parse {text!r} as a number") from None
    if not math.isfinite(x):
        raise InputError(f"row {row_no}, column '{name}': value {text!r} is not finite")
    return x


def score_csv(input_path: Path, output: Path | TextIO, timestamp_column: str = "timestamp",
              config_path: Path | None = None, device_id: str = "csv", per_column: bool = False,
              baseline_rows: int | None = None) -> dict[str, int]:
    """Score INPUT into OUTPUT; returns counts {"rows", "anomalous", "alerts", "set_aside"}."""
    detection, thresholds = load_config(config_path)
    if baseline_rows is not None:
        if baseline_rows < 2:
            raise InputError(f"--baseline-rows must be >= 2, got {baseline_rows}")
        detection = dataclasses.replace(detection, baseline_readings=baseline_rows)
    counts = {"rows": 0, "anomalous": 0, "alerts": 0, "set_aside": 0}
    try:
        fin = open(input_path, newline="")  # noqa: SIM115 - closed by the with-block below
    except OSError as e:
        raise InputError(f"{input_path}: {e.strerror}") from None
    with fin:
        reader = csv.reader(fin)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise InputError(f"{input_path}: empty file (no header row)") from None
        value_cols = [h for h in header if h != timestamp_column]
        out_header = ["timestamp", "score", "anomalous", "alert", "model_score", "top_sensors",
                      *(f"{c}_score" for c in value_cols), "note"]
        rows = score_rows(reader, header, timestamp_column, detection, thresholds, device_id, per_column)
        if isinstance(output, Path):
            with open(output, "w", newline="") as fout:
                _write(fout, out_header, rows, counts)
        else:
            _write(output, out_header, rows, counts)
    return counts


def _write(fout: TextIO, header: list[str], rows: Iterator[list[Any]], counts: dict[str, int]) -> None:
    w = csv.writer(fout, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(r)
        counts["rows"] += 1
        counts["anomalous"] += r[2]
        counts["alerts"] += r[3]
        counts["set_aside"] += bool(r[-1])
