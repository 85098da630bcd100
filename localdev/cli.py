"""``iot-anomaly``: the project's command line (local AWS, simulator, job, demo, evaluation)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

STATE_DIR = Path("build/local")


def _local_aws(args: argparse.Namespace) -> int:
    from localdev import emulator

    state = Path(args.state_dir) / "local-aws"
    if args.action == "up":
        from localdev.demo import DemoSettings, local_properties

        aws = emulator.up(state, args.port)
        props = Path(args.state_dir) / "application_properties.json"
        props.write_text(json.dumps(local_properties(aws, DemoSettings(), Path(args.state_dir)), indent=2))
        print(f"local AWS on {aws.endpoint} (pid {aws.pid}); stream {aws.stream_arn}")
        print(f"job properties for it: {props}")
        print(f"  send readings: iot-anomaly simulate --rate 500 --state-dir {args.state_dir}")
        print(f"  run the job:   iot-anomaly run-job --properties {props}   (Ctrl-C stops it)")
        print(f"stop it with: iot-anomaly local-aws down --state-dir {args.state_dir}")
    elif args.action == "down":
        print("stopped" if emulator.down(state) else "not running")
    else:
        try:
            aws = emulator.load(state)
        except RuntimeError as exc:
            print(exc)
            return 1
        print(json.dumps({"endpoint": aws.endpoint, "pid": aws.pid, "stream_arn": aws.stream_arn}))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import time

    from localdev.simulator import Simulation, SimulationConfig, generate, send_to_kinesis

    start = args.start_ms if args.start_ms is not None else int(time.time() * 1000)
    if args.output and args.start_ms is None:
        start -= int(args.duration * 1000)  # a recording lies in the past, never in the future
    cfg = SimulationConfig(
        devices=args.devices,
        interval_ms=args.interval_ms,
        duration_s=args.duration,
        start_ms=start,
        seed=args.seed,
        malformed_share=args.malformed_share,
        anomalies=args.anomalies,
    )
    sim = Simulation(cfg)
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w") as f:
            for _ts, _key, line in generate(cfg, sim):
                f.write(line + "\n")
        print(f"wrote {sim.events:,} records to {out}", file=sys.stderr)
    else:
        from localdev import emulator

        aws = emulator.load(Path(args.state_dir) / "local-aws")
        rate = None if args.rate <= 0 else args.rate
        sent = send_to_kinesis(
            generate(cfg, sim),
            aws.client("kinesis"),
            aws.stream_name,
            rate,
            lambda n: print(f"sent {n:,}", file=sys.stderr) if n % 10_000 < 500 else None,
        )
        print(f"sent {sent:,} records to {aws.stream_name}", file=sys.stderr)
    labels = Path(args.labels)
    labels.parent.mkdir(parents=True, exist_ok=True)
    labels.write_text(json.dumps(sim.labels(), indent=2))
    print(
        json.dumps(
            {
                "events": sim.events,
                "valid": sim.valid,
                "malformed": sim.malformed,
                "anomalies": len(sim.anomalies),
                "labels": str(labels),
            }
        )
    )
    return 0


def _run_job(args: argparse.Namespace) -> int:
    import os

    from flink_job.main import main as job_main

    argv = ["--properties", args.properties]
    if args.restore:
        argv += ["--restore", args.restore]
    if args.msf:
        return job_main(argv)
    os.environ.setdefault("IOT_ANOMALY_LOCAL", "true")  # this CLI is a developer tool
    from flink_job.pipeline.environment import current_local_run
    from localdev.graceful_stop import DrainedStopOnSignal

    with DrainedStopOnSignal(current_local_run):
        return job_main(argv)


def _demo(args: argparse.Namespace) -> int:
    from localdev.demo import DemoSettings, main

    settings = DemoSettings(
        devices=args.devices,
        rate=args.rate,
        duration_s=args.duration,
        seed=args.seed,
        restore_after_s=args.restore_after,
    )
    return main(settings, Path(args.state_dir))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iot-anomaly",
        description="PyFlink IoT anomaly detection: local AWS emulator, fleet simulator, the job, "
        "the end-to-end demo and the detector evaluation.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "local-aws",
        help="start/stop the moto server on 127.0.0.1 with the project's resources",
        description="Start (up), stop (down) or show (status) the local AWS emulator. "
        "'up' creates the Kinesis stream, archive bucket, Timestream tables and the alerts "
        "topic with an SQS read-back queue; its PID and endpoint go to STATE_DIR.",
    )
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--state-dir", default=str(STATE_DIR), help="where the PID and endpoint are kept")
    p.set_defaults(func=_local_aws)

    p = sub.add_parser(
        "simulate",
        help="generate a seeded sensor fleet with labelled anomalies",
        description="Generate readings of DEVICES machines (temperature, pressure, vibration) "
        "with injected anomalies and malformed records. Writes to the local Kinesis stream "
        "(PutRecords, 500 per call, at --rate) or, with --output, to a JSON-lines file for "
        "replays and benchmarks. Ground-truth labels go to --labels.",
    )
    p.add_argument("--devices", type=int, default=100)
    p.add_argument("--interval-ms", type=int, default=1000, help="sample period of each device")
    p.add_argument("--duration", type=float, default=60.0, help="simulated seconds")
    p.add_argument(
        "--start-ms",
        type=int,
        default=None,
        help="first timestamp (default: now, or now-duration for --output)",
    )
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--malformed-share", type=float, default=0.01)
    p.add_argument("--anomalies", type=int, default=12)
    p.add_argument("--rate", type=float, default=0, help="events/s to Kinesis (0: as fast as possible)")
    p.add_argument("--output", help="write a JSON-lines file instead of Kinesis")
    p.add_argument("--labels", default="build/local/labels.json")
    p.add_argument("--state-dir", default=str(STATE_DIR))
    p.set_defaults(func=_simulate)

    p = sub.add_parser(
        "run-job",
        help="run the Flink job on a local minicluster",
        description="Run the job on a local minicluster with a runtime-properties JSON (MSF's shape); "
        "its 'local' group (endpoint, jars, checkpointing) applies unless --msf. The web UI and REST "
        "API listen on 127.0.0.1 (local.rest_port, 0: a free port; the URL is printed). Checkpoints "
        "go to local.checkpoint_dir and are kept when the job fails, is cancelled or the process "
        "dies. Ctrl-C (SIGINT) or SIGTERM stops the job with a drained savepoint (windows and "
        "buffers flushed, nothing read is lost) in <checkpoint_dir>/savepoints and prints its "
        "path; a second signal aborts at once.",
    )
    p.add_argument("--properties", required=True, help="runtime-properties JSON ('local-aws up' writes one)")
    p.add_argument(
        "--restore",
        metavar="latest|PATH",
        help="resume instead of starting fresh: 'latest' takes the newest completed checkpoint "
        "(<checkpoint_dir>/<job-id>/chk-N with a _metadata file) or savepoint under "
        "local.checkpoint_dir, e.g. after a crash or Ctrl-C; PATH is a checkpoint or savepoint "
        "folder (or file:// URL). Overrides local.restore. The Kinesis source resumes from the "
        "positions in that snapshot and the S3 archive neither loses nor repeats records.",
    )
    p.add_argument("--msf", action="store_true", help="behave as on MSF: ignore the 'local' group")
    p.set_defaults(func=_run_job)

    p = sub.add_parser(
        "demo",
        help="the whole pipeline end to end on local AWS, then a summary",
        description="Start local AWS, run the simulator into Kinesis and the job on a local "
        "minicluster, stop the job with a drained savepoint, print a summary and, last, "
        "one JSON line; then stop everything.",
    )
    p.add_argument("--devices", type=int, default=100)
    p.add_argument("--rate", type=float, default=1000.0, help="events/s the simulator sends")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of simulated traffic")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--restore-after",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="cancel the job SECONDS into the run, as a crash would, and resume it from its newest "
        "checkpoint (run-job --restore latest) while the simulator keeps sending; the summary then "
        "shows that nothing was lost or archived twice",
    )
    p.add_argument("--state-dir", default=str(STATE_DIR))
    p.set_defaults(func=_demo)

    from flink_job.evaluation.cli import register
    from flink_job.history.cli import register as register_history

    register(sub)
    register_history(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"iot-anomaly {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one readable line for expected failures
        from flink_job.core.errors import ConfigError

        if isinstance(exc, (ConfigError, RuntimeError, ValueError, OSError)):
            print(f"iot-anomaly {args.command}: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
