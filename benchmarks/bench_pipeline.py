"""Replay a recorded simulation through the job graph and report events/s, end to end and per stage.

The recording is a JSON-lines file made by the simulator (the emulator is not in the loop, so it
cannot be the bottleneck). Each stage is the same graph cut after that stage with a discarding
sink, so the differences show what each stage costs:

    source   read the file (JVM only)
    parse    + parse/validate (JVM function, com.iotanomaly.records) and the valid/dead-letter split
    windows  + per-device micro-batches (arrival order) and event-time window statistics (JVM)
    detect   + per-series detection with keyed state (Python)
    full     + every sink: gzip archive to a local folder (Timestream and SNS off: no AWS here)

Throughput is net of the job's own start-up, as the reference's is net of its own (it times a
trivial job first and subtracts it): each stage also runs on the recording's first ``--devices`` lines
(the same graph: deployment, the Python workers' start, the final checkpoint), and events/s is
(records - those lines) / (net runtime - that run's net runtime), both by Flink's own clock (cluster
start-up excluded). The gross figure (records / net runtime) stays beside it in the report
(``*_gross``); ``--no-startup`` skips the start-up runs and reports gross figures only.
Production settings: the job's defaults (bundle size, batch window, watermarks), checkpointing on.

In the same invocation and on the same recording it runs the shared JVM-only Flink SQL reference
(``../shared/benchmarks/jvm_reference.py``: parse, validate, 1-minute statistics, a rolling z-score over
100 readings, thresholds) and reports ours / reference: a ratio survives a noisy machine, an absolute
figure does not. The full graph and the reference run as ``--pairs`` (default 3) back-to-back pairs;
the report gives the medians, and as the ratio the median of the pairs' own ratios (the machine's
speed drifts by the hour, and a pair shares its hour; single runs of the reference ranged 24k-32k
within one hour). While each stage runs it also records the largest completed checkpoint of the
detection operator (Flink's REST API: bytes per device) and the peak resident memory of the JVM and of
the Python workers (/proc).

Latency probe: the whole job, SNS included (moto on loopback, read back through its SQS subscription),
fed by a source inside the job that emits synthetic readings at a steady rate (default 10,000/s) and
stamps each with the wall clock as it emits it (Java ``SyntheticReadings``: a static threshold breach
every 2,003 readings, a statistical spike every 2,011).  An alert's latency is the SQS SentTimestamp of
its SNS message minus its reading's ``ts``: from the moment the job read the reading to the moment SNS
took the alert.  The percentiles are of the steady state: alerts on readings of the first
``--latency-warmup-seconds`` (default 10, counted from the first alerting reading) wait for the
Python workers to start and the JIT to warm up; the report gives them apart (``latency.warmup``).

Steady state: on the recording above the reference's own net figure still holds its JIT warm-up
(its SQL operators are compiled and warmed within its timed run), while ours subtracts a start-up run
of the same graph. So the pairs are run again on a recording ``--steady-factor`` (default 5) times as
long, where start-up and warm-up weigh little on both sides: ``steady_state`` in the report, with the
same fields as the main pairs (on a 3.0M-record recording ours ran at 92k net / 81k gross against the
reference's 37-42k, where the 605k one gave 90k / 50k against 26-30k).

Memory as the fleet grows: the full graph runs again on a recording of ``--scale-devices`` devices
(default 10,000) with as many records, so each device has a tenth of the readings; the report's
``memory_scaling`` puts its peak RSS, state per device and events/s beside the main run's.
Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import median

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
REFERENCE = REPO.parent / "shared" / "benchmarks" / "jvm_reference.py"

from flink_job.core import schema  # noqa: E402
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
) -> dict[str, float]:
    """Measurements of the graph cut after ``stage``, run in a fresh process: ``seconds`` (net runtime),
    ``detect_state_bytes`` (largest completed checkpoint of the detection operator, if any),
    ``jvm_peak_rss_mb`` and ``python_peak_rss_mb`` (sum over the Python workers)."""
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
    props.write_text(json.dumps(schema.document(groups)))
    env = dict(os.environ, IOT_ANOMALY_LOCAL="true")
    out = subprocess.run(
        [sys.executable, __file__, "--run-stage", stage, "--properties", str(props)],
        capture_output=True, text=True, env=env, timeout=1800,
    )  # fmt: skip
    for line in out.stdout.splitlines():
        if line.startswith("STAGE_RESULT "):
            return json.loads(line.split(" ", 1)[1])
    raise RuntimeError(f"stage {stage} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


class RunMonitor(threading.Thread):
    """Polls, every ``every_s`` while a job runs: the detection operator's state in each completed
    checkpoint (REST) and the resident memory of this process's descendants (the JVM and the Python
    workers it starts), keeping the peaks."""

    def __init__(self, rest_url: str, job_id: str, every_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.rest_url, self.job_id, self.every_s = rest_url, job_id, every_s
        self.stop_event = threading.Event()
        self.detect_state_bytes = 0
        self.jvm_peak_kb = 0
        self.python_peak_kb = 0
        self._seen_checkpoints: set[int] = set()

    def run(self) -> None:
        while not self.stop_event.wait(self.every_s):
            self._sample_memory()
            # the REST API may not be up yet, or the job finishing
            with contextlib.suppress(OSError, ValueError, KeyError):
                self._sample_checkpoints()

    def _sample_checkpoints(self) -> None:
        from localdev.flink_rest import operator_state_bytes, rest_call

        base = f"{self.rest_url}/jobs/{self.job_id}"
        for cp in rest_call(f"{base}/checkpoints", timeout_s=5.0).get("history", []):
            if cp.get("status") != "COMPLETED" or cp["id"] in self._seen_checkpoints:
                continue
            self._seen_checkpoints.add(cp["id"])
            size = operator_state_bytes(self.rest_url, self.job_id, cp["id"], "detect-anomalies")
            self.detect_state_bytes = max(self.detect_state_bytes, size)

    def _sample_memory(self) -> None:
        jvm = python = 0
        for pid in _descendants(os.getpid()):
            try:
                exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
                status = Path(f"/proc/{pid}/status").read_text()
                rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
            except (OSError, StopIteration, ValueError):
                continue  # gone, or a kernel thread
            if exe == "java":
                jvm += rss
            elif exe.startswith("python"):
                python += rss
        self.jvm_peak_kb = max(self.jvm_peak_kb, jvm)
        self.python_peak_kb = max(self.python_peak_kb, python)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def execute_stage(stage: str, properties: str) -> None:
    """In the child process: build the graph up to ``stage``, discard its leaves, run it."""
    from pyflink.datastream.connectors import Sink
    from pyflink.java_gateway import get_gateway

    from flink_job.config import load_config
    from flink_job.pipeline.environment import create_environment, current_local_run
    from flink_job.pipeline.graph import build_graph

    cfg = load_config(properties)
    env = create_environment(cfg)
    g = build_graph(env, cfg, until=stage)
    if stage != "full":
        leaves = [g.raw] if g.valid_lines is None else [g.valid_lines, g.dead_letters, g.late_readings]
        if g.aggregates is not None:
            leaves += [g.aggregates, g.anomalies if g.anomalies is not None else g.batches]
        jvm = get_gateway().jvm
        for leaf in leaves:
            leaf.sink_to(Sink(jvm.org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink()))
    client = env.execute_async(f"bench-{stage}")
    monitor = RunMonitor(current_local_run().rest_url, str(client.get_job_id()))
    monitor.start()
    result = client.get_job_execution_result().result()
    monitor.stop_event.set()
    monitor.join()
    print("STAGE_RESULT " + json.dumps({
        "seconds": result.get_net_runtime() / 1000,
        "detect_state_bytes": monitor.detect_state_bytes,
        "jvm_peak_rss_mb": round(monitor.jvm_peak_kb / 1024),
        "python_peak_rss_mb": round(monitor.python_peak_kb / 1024),
    }))


def latency_probe(work: Path, parallelism: int, devices: int, rate: float, seconds: float,
                  overrides: dict[str, dict[str, str]] | None = None, warmup_s: float = 10.0,
                  trace: Path | None = None) -> dict:
    """Run the job on synthetic readings at ``rate`` with SNS on moto; alert latency percentiles per kind,
    of the alerts after ``warmup_s`` (those before it apart, under ``warmup``).
    ``overrides`` (``--set``) apply here as to every stage; ``trace``: a CSV of every alert (seconds
    since the first alerting reading, kind, latency), to see whether latency grows during the run."""
    from localdev import emulator
    from localdev.demo import alert_latencies, drain_alert_queue, percentile

    aws = emulator.up(work / "local-aws")
    try:
        props = work / "props-latency.json"
        groups = {
            "source": {"kind": "file", "file_path": "/dev/null"},  # replaced by the synthetic source
            "sinks": {"timeseries.store": "none", "sns.alerts_topic_arn": aws.alerts_topic_arn,
                      "s3.archive_path": (work / "archive-latency").as_uri() + "/", "aws.region": aws.region},
            "local": {"jars": (REPO / "build" / "libs" / "pyflink-dependencies.jar").as_uri(),
                      "parallelism": str(parallelism), "checkpoint_interval_ms": "10000",
                      "aws_endpoint": aws.endpoint},
        }
        for group, values in (overrides or {}).items():
            groups.setdefault(group, {}).update(values)
        props.write_text(json.dumps(schema.document(groups)))
        out = subprocess.run(
            [sys.executable, __file__, "--run-latency", "--properties", str(props), "--devices", str(devices),
             "--latency-rate", str(rate), "--latency-seconds", str(seconds)],
            capture_output=True, text=True, env=dict(os.environ, IOT_ANOMALY_LOCAL="true"), timeout=1800,
        )  # fmt: skip
        if out.returncode:
            raise RuntimeError(f"latency probe failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
        sent: list[int] = []
        published = drain_alert_queue(aws, sent)
    finally:
        emulator.down(work / "local-aws")
    # the demo's matching, where a reading's "put" is its ts: SyntheticReadings stamps the read time
    read_ms = {(m.get("device_id"), m.get("ts")): m.get("ts") for m in published}
    start = min((m["ts"] for m in published if isinstance(m.get("ts"), int)), default=0)
    cut = start + warmup_s * 1000
    steady: list[tuple[dict, int]] = []
    warm: list[tuple[dict, int]] = []
    for pair in zip(published, sent, strict=True):
        (steady if pair[0].get("ts", 0) >= cut else warm).append(pair)

    def r2(x: float | None) -> float | None:
        return None if x is None else round(x, 2)

    def summary(pairs: list[tuple[dict, int]]) -> dict[str, dict]:
        lat = alert_latencies([m for m, _ in pairs], [s for _, s in pairs], read_ms)
        return {kind: {"alerts": len(v), "p50_s": r2(percentile(v, 50)), "p99_s": r2(percentile(v, 99)),
                       "max_s": r2(max(v, default=None))} for kind, v in lat.items()}

    if trace is not None:
        with trace.open("w") as f:
            f.write("read_s,kind,latency_s\n")
            for msg, delivered in sorted(zip(published, sent, strict=True), key=lambda p: p[0].get("ts", 0)):
                if isinstance(msg.get("ts"), int) and "silence" not in msg.get("detectors", ()):
                    kind = "threshold" if "threshold" in msg.get("detectors", ()) else "statistical"
                    f.write(f"{(msg['ts'] - start) / 1000:.3f},{kind},{(delivered - msg['ts']) / 1000:.3f}\n")
    return {**summary(steady), "warmup": {"seconds": warmup_s, **summary(warm)}}


def execute_latency_probe(properties: str, devices: int, rate: float, seconds: float) -> None:
    """In the child process: the full job on `SyntheticReadings` at ``rate`` for ``seconds``."""
    from pyflink.datastream.connectors import Source
    from pyflink.java_gateway import get_gateway

    from connectors.kinesis import reading_watermarks
    from flink_job.config import load_config
    from flink_job.pipeline.environment import create_environment
    from flink_job.pipeline.graph import build_graph

    cfg = load_config(properties)
    env = create_environment(cfg)
    p = cfg.pipeline
    j_source = get_gateway().jvm.com.iotanomaly.connectors.replay.SyntheticReadings.source(
        int(devices), int(rate * seconds), float(rate))
    watermarks = reading_watermarks(p.watermark_delay_ms, p.idle_timeout_ms, p.max_future_ms)
    raw = env.from_source(Source(j_source), watermarks, "synthetic-readings")
    build_graph(env, cfg, raw=raw)
    env.execute("bench-latency")


def run_reference(recording: Path, parallelism: int) -> dict:
    """The shared JVM-only SQL reference on the same recording (its last line is JSON)."""
    if not REFERENCE.exists():
        raise SystemExit(f"error: the JVM reference is missing: {REFERENCE}")
    out = subprocess.run(
        [sys.executable, str(REFERENCE), str(recording), "--format", "json",
         "--parallelism", str(parallelism)],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode or not lines:
        raise RuntimeError(f"JVM reference failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    return json.loads(lines[-1])


def scale_run(work: Path, args: argparse.Namespace, events: int, devices: int, full: dict,
              overrides: dict[str, dict[str, str]]) -> dict:
    """The full graph on ``args.scale_devices`` devices and about ``events`` records, beside ``full``."""
    recording = work / f"recording-{args.scale_devices}.jsonl"
    duration = max(1.0, events * args.interval_ms / 1000 / args.scale_devices)
    scaled = record(recording, args.scale_devices, args.interval_ms, duration, args.seed)
    print(f"scaling: {scaled:,} records of {args.scale_devices:,} devices", file=sys.stderr)
    m = run_stage("full", recording, work, args.parallelism, overrides)
    # net of the main run's start-up when it was measured: the same graph, only the records differ
    rate = net_of_startup(scaled, m["seconds"], 0, full.get("startup_seconds"))
    rows = [
        {"devices": devices, "events": events,
         **{k: full[k] for k in ("events_per_second", "startup_seconds", "events_per_second_gross")
            if k in full},
         "jvm_peak_rss_mb": full["jvm_peak_rss_mb"], "python_peak_rss_mb": full["python_peak_rss_mb"],
         "state_bytes_per_device": round(full.get("detect_state_bytes", 0) / devices)},
        {"devices": args.scale_devices, "events": scaled, **rate,
         "jvm_peak_rss_mb": m["jvm_peak_rss_mb"], "python_peak_rss_mb": m["python_peak_rss_mb"],
         "state_bytes_per_device": round(m["detect_state_bytes"] / args.scale_devices)},
    ]
    for r in rows:
        gross = f" (gross {r['events_per_second_gross']:,})" if "events_per_second_gross" in r else ""
        print(f"{r['devices']:>7,} devices: {r['events_per_second']:>7,} events/s{gross}, RSS JVM "
              f"{r['jvm_peak_rss_mb']} MB, Python workers {r['python_peak_rss_mb']} MB, state "
              f"{r['state_bytes_per_device']:,} B/device", file=sys.stderr)
    return {"runs": rows}


def reference_pairs(args: argparse.Namespace, recording: Path, work: Path,
                    overrides: dict[str, dict[str, str]], events: int, full: dict,
                    startup_events: int, count: int, first_is_full: bool = True) -> dict:
    """``count`` back-to-back (full graph, reference) pairs on ``recording``, the first full run being
    ``full`` when ``first_is_full``; their medians (`summarize_pairs`). The other full runs reuse
    ``full``'s start-up time (the same graph)."""
    pairs = []
    for k in range(count):
        if k == 0 and first_is_full:
            ours = full
        else:
            secs = run_stage("full", recording, work, args.parallelism, overrides)["seconds"]
            ours = net_of_startup(events, secs, startup_events, full.get("startup_seconds"))
        ref = run_reference(recording, args.parallelism)["reference_events_per_second"]
        pair = {"ours": ours["events_per_second"], "reference": round(ref)}
        if "events_per_second_gross" in ours:
            pair["ours_gross"] = ours["events_per_second_gross"]
        pairs.append(pair)
        print(f"pair {k + 1}/{count}: ours {pair['ours']:,} events/s"
              + (f" (gross {pair['ours_gross']:,})" if "ours_gross" in pair else "")
              + f", reference (JVM-only SQL) {pair['reference']:,}: ratio {pair['ours'] / ref:.2f}",
              file=sys.stderr)
    out = summarize_pairs(pairs)
    print(f"median of {count} pairs: ours {out['end_to_end_events_per_second']:,} events/s, reference "
          f"{out['reference_events_per_second']:,}, ratio ours / reference {out['ratio_to_reference']:.2f}"
          + (f" (both net of start-up; ours gross: {out['ratio_to_reference_gross']:.2f})"
             if "ratio_to_reference_gross" in out else ""), file=sys.stderr)
    return out


def steady_state(args: argparse.Namespace, work: Path, overrides: dict[str, dict[str, str]], full: dict,
                 startup_events: int) -> dict:
    """Ours against the reference on a recording ``--steady-factor`` times as long (the same devices,
    more readings each), ``--steady-pairs`` pairs: both sides' start-up and JIT warm-up then weigh
    little, so the gross figure nears the net one and the ratio is the steady state's."""
    recording = work / "recording-steady.jsonl"
    duration = args.duration * args.steady_factor
    events = record(recording, args.devices, args.interval_ms, duration, args.seed)
    print(f"steady state: {events:,} records ({args.steady_factor}x), {args.steady_pairs} pairs",
          file=sys.stderr)
    out = reference_pairs(args, recording, work, overrides, events, full, startup_events, args.steady_pairs,
                          first_is_full=False)
    recording.unlink()
    return {"events": events, "factor": args.steady_factor, **out}


def summarize_pairs(pairs: list[dict]) -> dict:
    """Medians over (ours, reference) pairs; the ratio is the median of each pair's own ratio."""
    out = {"pairs": pairs,
           "end_to_end_events_per_second": round(median(p["ours"] for p in pairs)),
           "reference_events_per_second": round(median(p["reference"] for p in pairs)),
           "ratio_to_reference": round(median(p["ours"] / p["reference"] for p in pairs), 3)}
    if all("ours_gross" in p for p in pairs):
        out["end_to_end_events_per_second_gross"] = round(median(p["ours_gross"] for p in pairs))
        out["ratio_to_reference_gross"] = round(median(p["ours_gross"] / p["reference"] for p in pairs), 3)
    return out


def head(recording: Path, out: Path, lines: int) -> int:
    """The first ``lines`` lines of ``recording`` into ``out`` (the start-up run's input); their count."""
    n = 0
    with recording.open() as src, out.open("w") as dst:
        for line in src:
            if n == lines:
                break
            dst.write(line)
            n += 1
    return n


def net_of_startup(events: int, seconds: float, startup_events: int, startup_seconds: float | None) -> dict:
    """Events/s net of start-up: the start-up run's records and runtime subtracted from the run's
    (gross only when ``startup_seconds`` is None: no start-up run)."""
    if startup_seconds is None:
        return {"events_per_second": round(events / seconds)}
    if seconds <= startup_seconds or events <= startup_events:
        raise SystemExit(f"error: the recording is too short to measure net of start-up ({events:,} records "
                         f"in {seconds:.1f} s, start-up {startup_seconds:.1f} s): record more (--duration)")
    return {"startup_seconds": round(startup_seconds, 2),
            "events_per_second": round((events - startup_events) / (seconds - startup_seconds)),
            "events_per_second_gross": round(events / seconds)}


def count_devices(recording: Path) -> int:
    """Distinct device ids among the recording's readable lines."""
    devices = set()
    with recording.open() as f:
        for line in f:
            try:
                devices.add(json.loads(line)["device_id"])
            except (ValueError, KeyError, TypeError):
                continue
    return len(devices)


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
    ap.add_argument("--pairs", type=int, default=3,
                    help="back-to-back (full graph, reference) pairs; the report gives medians (default 3)")
    ap.add_argument("--no-startup", action="store_true",
                    help="skip the start-up runs: figures include the job's start-up (gross)")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="GROUP.KEY=VALUE",
        help="override a runtime property, e.g. --set detection.zscore_window=600",
    )
    ap.add_argument("--no-reference", action="store_true", help="skip the JVM-only reference run")
    ap.add_argument("--steady-factor", type=int, default=5,
                    help="also compare ours with the reference on a recording this many times as long, where "
                         "start-up and JIT warm-up weigh little (report: steady_state; default 5, 0 skips; "
                         "not with --recording)")
    ap.add_argument("--steady-pairs", type=int, default=2,
                    help="back-to-back pairs on the long recording (default 2)")
    ap.add_argument("--latency-rate", type=float, default=10_000.0,
                    help="events/s of the latency probe (default 10000; 0 skips the probe)")
    ap.add_argument("--latency-seconds", type=float, default=60.0, help="length of the latency probe (s)")
    ap.add_argument("--latency-warmup-seconds", type=float, default=10.0,
                    help="alerts on the probe's first readings, this long from the first alerting one, are "
                         "reported apart as warm-up (Python workers starting, JIT), not in the percentiles")
    ap.add_argument("--latency-trace", type=Path, default=None,
                    help="also write every alert of the latency probe to this CSV (read time, kind, latency)")
    ap.add_argument("--run-latency", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--scale-devices", type=int, default=10_000,
                    help="run the full graph again with this many devices and as many records, to show "
                         "memory as the fleet grows (default 10000; 0 skips)")
    ap.add_argument("--out", default=str(REPO / "build" / "reports" / "bench_pipeline.json"))
    args = ap.parse_args(argv)
    if args.run_stage:
        execute_stage(args.run_stage, args.properties)
        return 0
    if args.run_latency:
        execute_latency_probe(args.properties, args.devices, args.latency_rate, args.latency_seconds)
        return 0

    if args.pairs < 1:
        raise SystemExit(f"error: --pairs must be >= 1, got {args.pairs}")
    if args.steady_factor < 0 or args.steady_pairs < 0:
        raise SystemExit(f"error: --steady-factor and --steady-pairs must be >= 0, got {args.steady_factor} "
                         f"and {args.steady_pairs}")
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
        devices = count_devices(recording) if args.recording else args.devices
        startup = None
        if not args.no_startup:
            startup = work / "startup.jsonl"
            startup_events = head(recording, startup, devices)
        results = {}
        for stage in args.stages.split(","):
            m = run_stage(stage, recording, work, args.parallelism, overrides)
            secs = m["seconds"]
            results[stage] = r = {"seconds": round(secs, 2), "events_per_second": round(events / secs),
                                  "jvm_peak_rss_mb": m["jvm_peak_rss_mb"],
                                  "python_peak_rss_mb": m["python_peak_rss_mb"]}
            if m["detect_state_bytes"]:
                r["detect_state_bytes"] = m["detect_state_bytes"]
            line = f"{stage:>8}: {events / secs:>10,.0f} events/s gross ({secs:.1f} s)"
            if startup is not None:
                start_s = run_stage(stage, startup, work, args.parallelism, overrides)["seconds"]
                r.update(net_of_startup(events, secs, startup_events, start_s))
                line = (f"{stage:>8}: {r['events_per_second']:>10,.0f} events/s net of start-up "
                        f"({secs:.1f} s - {start_s:.1f} s; gross {r['events_per_second_gross']:,})")
            print(f"{line}  RSS JVM {m['jvm_peak_rss_mb']} MB, Python workers {m['python_peak_rss_mb']} MB",
                  file=sys.stderr)
        full = results.get("full", {})
        ours = full.get("events_per_second")
        report = {
            "benchmark": "pipeline_replay",
            "events": events,
            "devices": devices,
            "parallelism": args.parallelism,
            "stages": results,
            "end_to_end_events_per_second": ours,
        }
        if "startup_seconds" in full:
            report["end_to_end_events_per_second_gross"] = full["events_per_second_gross"]
            report["startup_seconds"] = full["startup_seconds"]
        if full and not args.no_reference:
            report.update(reference_pairs(args, recording, work, overrides, events, full,
                                          startup_events if startup is not None else 0, args.pairs))
            # a given recording cannot be lengthened (repeated, its readings would go back in time)
            if args.steady_factor > 0 and args.steady_pairs > 0 and not args.recording:
                report["steady_state"] = steady_state(args, work, overrides, full,
                                                      startup_events if startup is not None else 0)
        state = max((r.get("detect_state_bytes", 0) for r in results.values()), default=0)
        if state:
            report["state_bytes_per_device"] = round(state / devices)
            print(f"detector state: {state:,} bytes in the largest checkpoint, "
                  f"{state / devices:,.0f} per device", file=sys.stderr)
        if args.scale_devices > 0 and "full" in results:
            report["memory_scaling"] = scale_run(work, args, events, devices, results["full"], overrides)
        if args.latency_rate > 0:
            if args.latency_warmup_seconds >= args.latency_seconds:
                raise SystemExit("error: --latency-warmup-seconds must be shorter than --latency-seconds")
            lat = latency_probe(work, args.parallelism, args.devices, args.latency_rate, args.latency_seconds,
                                overrides, args.latency_warmup_seconds, args.latency_trace)
            report["latency"] = lat
            report["latency_p99_s"] = {k: lat[k]["p99_s"] for k in ("threshold", "statistical")}
            for kind in ("threshold", "statistical"):
                q = lat[kind]
                w = lat["warmup"][kind]
                print(f"latency {kind:>11}: p50 {q['p50_s']} s, p99 {q['p99_s']} s, max {q['max_s']} s "
                      f"({q['alerts']} alerts at {args.latency_rate:,.0f} events/s; warm-up: {w['alerts']} "
                      f"alerts, max {w['max_s']} s)", file=sys.stderr)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2))
        print(json.dumps(report))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
