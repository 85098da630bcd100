"""Regenerate the small archived sample the notebooks' tests run on (Python 3.11, project venv).

    .venv/bin/python notebooks/sample/make_sample.py

Writes, shaped like the job's S3 archive (gzip JSON lines, ``dt=/hr=`` buckets):
  raw/dt=2026-11-02/hr=10/part-sample-0.jsonl.gz        valid readings, as the job archives them
  anomalies/dt=2026-11-02/hr=10/part-sample-0.jsonl.gz  what the job's detectors report, default settings
  labels.json                                           the simulator's labelled anomaly episodes
Same seed, same bytes (gzip mtime 0).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from flink_job.core.detection import DetectionConfig, SeriesMonitor, ThresholdConfig
from flink_job.core.events import anomaly_event
from flink_job.core.records import SENSORS
from localdev.simulator import Simulation, SimulationConfig, generate

HERE = Path(__file__).resolve().parent
START_MS = 1_793_613_600_000  # 2026-11-02T10:00:00Z
PARTITION = "dt=2026-11-02/hr=10"
CONFIG = SimulationConfig(
    devices=4,
    interval_ms=1000,
    duration_s=200,
    start_ms=START_MS,
    seed=7,
    malformed_share=0.0,  # raw/ holds valid lines only; malformed ones go to dead-letters/
    anomalies=4,
    kinds=("spike", "level_shift", "drift", "stuck"),
)


def write_gz_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write("".join(line + "\n" for line in lines).encode("utf-8"))


def main() -> None:
    sim = Simulation(CONFIG)
    lines = [record for _ts, _key, record in generate(CONFIG, sim)]
    write_gz_lines(HERE / "raw" / PARTITION / "part-sample-0.jsonl.gz", lines)

    detection, thresholds = DetectionConfig(), ThresholdConfig()
    monitors: dict[tuple[str, str], SeriesMonitor] = {}
    anomalies = []
    for line in lines:
        rec = json.loads(line)
        for sensor in SENSORS:
            if rec.get(sensor) is None:
                continue
            key = (rec["device_id"], sensor)
            mon = monitors.get(key) or monitors.setdefault(key, SeriesMonitor(*key, detection, thresholds))
            v = mon.update(rec["ts"], rec[sensor])
            if v.anomalous or v.alert or v.detectors:  # the job's is_reportable
                event = anomaly_event(*key, v.ts_ms, v.value, v.score, v.severity, ",".join(v.detectors),
                                      v.anomalous, v.alert, v.reason)
                anomalies.append(json.dumps(event, separators=(",", ":")))
    write_gz_lines(HERE / "anomalies" / PARTITION / "part-sample-0.jsonl.gz", anomalies)
    (HERE / "labels.json").write_text(json.dumps(sim.labels(), indent=1) + "\n")
    print(f"{len(lines)} readings, {len(anomalies)} anomaly rows, {len(sim.anomalies)} labelled episodes")


if __name__ == "__main__":
    main()
