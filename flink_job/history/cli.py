"""``iot-anomaly history``: the archive's named queries, run locally (registered by localdev.cli)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from flink_job.history.queries import QUERIES

DEMO_ARCHIVE = Path("build/local/demo/archive")  # where `make demo` leaves a copy of its archive
ALL_DAYS = ("0000-01-01", "9999-12-31")


def parse_time(text: str, *, end: bool = False) -> int:
    """Epoch ms from epoch ms, an ISO-8601 date (its start, or with ``end`` its last ms) or date-time
    (UTC when no zone is given)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time: {text!r} (epoch ms, YYYY-MM-DD or an ISO-8601 date-time)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    ms = int(dt.timestamp() * 1000)
    return ms + 86_400_000 - 1 if end and len(text) == 10 else ms


def _history(args: argparse.Namespace) -> int:
    from flink_job.history import engine

    query = QUERIES[args.query]
    if "device" in query.params and query.params.count("device") == 1 and not args.device:
        raise ValueError(f"query {args.query} needs --device")
    archive, temporary = _archive(args)
    try:
        params = {
            "device": args.device or "",
            "day_from": args.day_from or ALL_DAYS[0],
            "day_to": args.day_to or ALL_DAYS[1],
            "from_ms": parse_time(args.start) if args.start else 0,
            "to_ms": parse_time(args.end, end=True) if args.end else 2**62,
        }
        result = engine.run(engine.connect(archive), args.query, **params)
    finally:
        if temporary:
            shutil.rmtree(archive, ignore_errors=True)
    if args.format == "json":
        for row in result.rows:
            print(json.dumps(dict(zip(result.columns, row, strict=True)), default=str))
    else:
        what = f"# {args.query}: {query.doc} ({len(result.rows)} rows, archive {args.archive})"
        print(what, file=sys.stderr)
        print(result.table())
    return 0


def _archive(args: argparse.Namespace) -> tuple[Path, bool]:
    """(local folder, whether it is a temporary copy of an s3:// archive)."""
    if not args.archive.startswith("s3://"):
        path = Path(args.archive.removeprefix("file://"))
        if not path.is_dir():
            hint = " (run `make demo` first: it leaves a copy there)" if path == DEMO_ARCHIVE else ""
            raise FileNotFoundError(f"no archive folder {path}{hint}")
        return path, False
    from flink_job.history.engine import fetch_s3_archive
    from localdev import emulator

    state = Path(args.state_dir) / "local-aws"
    aws = emulator.load(state)
    print(f"# copying {args.archive} from the local AWS emulator at {aws.endpoint}", file=sys.stderr)
    return fetch_s3_archive(aws.client("s3"), args.archive), True


def _backfill(args: argparse.Namespace) -> int:
    from flink_job.history.backfill import backfill, live_settings, parse_overrides

    archive = Path(args.archive)
    live = Path(args.properties) if args.properties else _demo_properties(archive)
    base = live_settings(live)
    if live:
        print(f"backfill: settings of the live run from {live}: {json.dumps(base)}", flush=True)
    overrides = parse_overrides(args.set or [], base)
    start, end = parse_time(args.start), parse_time(args.end, end=True)
    if end < start:
        raise ValueError(f"--to {args.end} is before --from {args.start}")
    run_id = args.run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    summary = backfill(
        archive, start, end, overrides, run_id, progress=lambda m: print(f"backfill: {m}", flush=True)
    )
    live = summary["live"] or {}
    print(
        f"\n== backfill {run_id}: {summary['readings_replayed']:,} readings, {summary['seconds']} s ==\n"
        f"settings: {json.dumps(summary['settings']) if overrides else 'the defaults'}\n"
        f"anomaly rows {summary['anomaly_rows']:,} (live {live.get('anomaly_rows', '-')}), "
        f"alerts {summary['alerts']} (live {live.get('alerts', '-')}), "
        f"by severity {summary['alerts_by_severity']}\n"
        f"alerts in both {summary['alerts_in_both']} "
        f"({len(summary['severity_changed'])} with another severity), "
        f"only in the backfill {summary['only_in_backfill']}, only live {summary['only_live']}\n"
        f"results under {summary['output']} (summary.json; query them with "
        f"`iot-anomaly history ... --archive {summary['output']}`)\n"
        f"run report (plots): {summary['report']}"
    )
    print(json.dumps({k: v for k, v in summary.items() if not k.startswith("alerts_only")}))
    return 0


def _demo_properties(archive: Path) -> Path | None:
    """The demo's runtime properties, when the archive is the copy it left (its live settings)."""
    props = archive.parent / "application_properties.json"
    return props if archive.name == "archive" and props.exists() else None


def register(sub: argparse._SubParsersAction) -> None:
    names = "\n".join(f"  {q.name}: {q.doc}" for q in QUERIES.values())
    p = sub.add_parser(
        "history",
        help="query the archive (readings, anomalies, dead letters) with the named queries",
        description="Run one of the archive's named queries locally with DuckDB: the same SQL the "
        "stack installs as Athena named queries over the Glue tables.\n\nqueries:\n" + names,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("query", choices=list(QUERIES), metavar="QUERY", help="one of the queries listed above")
    p.add_argument("--archive", default=str(DEMO_ARCHIVE),
                   help="archive folder, or s3://bucket/prefix/ on the local AWS emulator "
                        f"(default: {DEMO_ARCHIVE}, the copy `make demo` leaves)")
    p.add_argument("--from", dest="start", metavar="TIME", help="readings/anomalies at or after (event time)")
    p.add_argument("--to", dest="end", metavar="TIME", help="... and at or before (a date: through its end)")
    p.add_argument("--device", help="one device (required by device-readings)")
    p.add_argument("--day-from", help="first dt= partition read (YYYY-MM-DD, the day written; default: all)")
    p.add_argument("--day-to", help="last dt= partition read")
    p.add_argument("--format", choices=["table", "json"], default="table", help="aligned text, or JSON lines")
    p.add_argument("--state-dir", default="build/local", help="where `local-aws up` keeps its endpoint")
    p.set_defaults(func=_history)

    p = sub.add_parser(
        "backfill",
        help="replay archived readings through the job with changed settings, beside the live results",
        description="Replay the archive's readings in [--from, --to] (event time, in order) through the "
        "same job graph on a local minicluster, with --set overrides, e.g. "
        "--set detection.alert_threshold=0.7 --set thresholds.temperature.critical_high=95. Results go "
        "to <archive>/backfill/<run-id>/ only (never the live folders, the store or SNS); the run ends "
        "with a summary beside the live run's alerts over the same period. Needs the connector jar "
        "(make jars).",
    )
    p.add_argument("--from", dest="start", required=True, metavar="TIME", help="first reading (event time)")
    p.add_argument("--to", dest="end", required=True, metavar="TIME", help="last reading (a date: its end)")
    p.add_argument("--set", action="append", metavar="GROUP.KEY=VALUE",
                   help="a runtime property of the replay (detection, thresholds, baseline, pipeline); "
                        "repeatable")
    p.add_argument("--archive", default=str(DEMO_ARCHIVE), help=f"archive folder (default: {DEMO_ARCHIVE})")
    p.add_argument("--properties", metavar="JSON",
                   help="the live run's runtime properties: their detection, thresholds, baseline and "
                        "pipeline groups are the base --set changes (default: the demo's, next to its "
                        "archive)")
    p.add_argument("--run-id", help="name of the results folder (default: the UTC start time)")
    p.set_defaults(func=_backfill)
