"""Replay a recorded simulation through the job graph and report events/s, end to end and per stage.

The recording is a JSON-lines file made by the simulator (the emulator is not in the loop, so it
cannot be the bottleneck). Each stage is the same graph cut after that stage with a discarding
sink, so the differences show what each stage costs:

    source   read the file (JVM only)
    parse    + parse/validate UDF (Python) and the valid/dead-letter split
    windows  + event time, per-series micro-batches and window statistics (JVM)
    detect   + per-series detection with keyed state (Python)
    full     + every sink: gzip archive to a local folder (Timestream and SNS off: no AWS here)

Throughput is records / the job's net runtime (Flink's own clock: cluster start-up excluded).
Production settings: the job's defaults (bundle size, batch window, watermarks), checkpointing on.
Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from flink_job.pipeline.graph import STAGES  # noqa: E402
from localdev.simulator import Simulation, SimulationConfig, generate  # noqa: E402


def record(path: Path, devices: int, interval_ms: int, duration_s: float, seed: int) -> int:
    cfg = SimulationConfig(
        devices=devices,
        interval_ms=interval_ms,
        duration_s=duration_s,
        start_ms=int(time.time() * 1000) - int(duration_s * 1000) - 60_000,
        seed=seed,
        anomalies=max(5, devices // 20),
    )
    sim = Simulation(cfg)
    with path.open("w") as f:
        for _ts, _key, line in generate(cfg, sim):
            f.write(line + "\n")
    return sim.events


def run_stage(
    stage: str, recording: Path, work: Path, parallelism: int, overrides: dict[str, dict[str, str]]
) -> float:
    """Net runtime in seconds of the graph cut after ``stage``; runs in a fresh process."""
    import subprocess

    props = work / f"props-{stage}.json"
    archive = work / f"archive-{stage}"
    groups = {
        "source": {"kind": "file", "file_path": str(recording)},
        "sinks": {"timeseries.store": "none", "s3.archive_path": archive.as_uri() + "/"},
        "local": {
            "jars": (REPO / "build" / "libs" / "pyflink-dependencies.jar").as_uri(),
            "parallelism": str(parallelism),
            "checkpoint_interval_ms": "10000",
        },
    }
    for group, kv in overrides.items():
        groups.setdefault(group, {}).update(kv)
    props.write_text(json.dumps([{"PropertyGroupId": k, "PropertyMap": v} for k, v in groups.items()]))
    env = dict(os.environ, IOT_ANOMALY_LOCAL="true")
    out = subprocess.run(
        [sys.executable, __file__, "--run-stage", stage, "--properties", str(props)],
        capture_output=True, text=True, env=env, timeout=1800,
    )  # fmt: skip
    for line in out.stdout.splitlines():
        if line.startswith("NET_RUNTIME_MS"):
            return int(line.split()[1]) / 1000
    raise RuntimeError(f"stage {stage} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


def execute_stage(stage: str, properties: str) -> None:
    """In the child process: build the graph up to ``stage``, discard its leaves, run it."""
    from pyflink.datastream.connectors import Sink
    from pyflink.java_gateway import get_gateway

    from flink_job.config import load_config
    from flink_job.pipeline.environment import create_environments
    from flink_job.pipeline.graph import build_graph

    cfg = load_config(properties)
    env, t_env = create_environments(cfg)
    g = build_graph(env, t_env, cfg, until=stage)
    if stage != "full":
        leaves = [g.raw] if g.valid_lines is None else [g.valid_lines, g.dead_letters, g.late_readings]
        if g.aggregates is not None:
            leaves += [g.aggregates, g.anomalies if g.anomalies is not None else g.batches]
        jvm = get_gateway().jvm
        for leaf in leaves:
            leaf.sink_to(Sink(jvm.org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink()))
    result = env.execute(f"bench-{stage}")
    print("NET_RUNTIME_MS", result.get_net_runtime())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--interval-ms", type=int, default=1000)
    ap.add_argument(
        "--duration",
        type=float,
        default=600.0,
        help="simulated seconds (records = devices x duration / interval)",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--parallelism", type=int, default=2)
    ap.add_argument(
        "--stages", default=",".join(STAGES), help=f"comma-separated subset of {','.join(STAGES)}"
    )
    ap.add_argument("--run-stage", choices=STAGES, help=argparse.SUPPRESS)
    ap.add_argument("--properties", help=argparse.SUPPRESS)
    ap.add_argument("--recording", help="replay this JSON-lines file instead of recording a new one")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="GROUP.KEY=VALUE",
        help="override a runtime property, e.g. --set detection.zscore_window=600",
    )
    ap.add_argument("--out", default=str(REPO / "build" / "reports" / "bench_pipeline.json"))
    args = ap.parse_args(argv)
    if args.run_stage:
        execute_stage(args.run_stage, args.properties)
        return 0

    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    try:
        if args.recording:
            recording = Path(args.recording)
            events = sum(1 for _ in recording.open())
        else:
            recording = work / "recording.jsonl"
            events = record(recording, args.devices, args.interval_ms, args.duration, args.seed)
        print(f"recording: {events:,} records ({recording.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
        overrides: dict[str, dict[str, str]] = {}
        for item in args.set:
            key, _, value = item.partition("=")
            group, _, name = key.partition(".")
            overrides.setdefault(group, {})[name] = value
        results = {}
        for stage in args.stages.split(","):
            secs = run_stage(stage, recording, work, args.parallelism, overrides)
            results[stage] = {"seconds": round(secs, 2), "events_per_second": round(events / secs)}
            print(f"{stage:>8}: {events / secs:>10,.0f} events/s  ({secs:.1f} s)", file=sys.stderr)
        report = {
            "benchmark": "pipeline_replay",
            "events": events,
            "parallelism": args.parallelism,
            "stages": results,
            "end_to_end_events_per_second": results.get("full", {}).get("events_per_second"),
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2))
        print(json.dumps(report))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
