"""Evaluation subcommands for the project CLI: `evaluate-nab`, `evaluate-tep` and `score-csv`.

`register(subparsers)` plugs them into the project's argparse CLI; `python -m flink_job.evaluation.cli`
runs them standalone.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from flink_job.core.errors import ConfigError
from flink_job.evaluation import nab_run, tep_run
from flink_job.evaluation.csv_scoring import InputError, score_csv


def _run_score_csv(args: argparse.Namespace) -> int:
    try:
        counts = score_csv(args.input, args.output, args.timestamp_column, args.config, args.device_id,
                           per_column=args.per_column, baseline_rows=args.baseline_rows)
    except (InputError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}: {counts['rows']} rows, {counts['anomalous']} anomalous, "
          f"{counts['alerts']} alerts", file=sys.stderr)
    if counts["set_aside"]:
        print(f"{counts['set_aside']} rows older than an earlier row were set aside, not scored "
              "(their note column says why)", file=sys.stderr)
    return 0


def _run_evaluate_nab(args: argparse.Namespace) -> int:
    try:
        return nab_run.run(args)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _run_evaluate_tep(args: argparse.Namespace) -> int:
    try:
        return tep_run.run(args)
    except (ConfigError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `evaluate-nab`, `evaluate-tep` and `score-csv` to a CLI's subparsers (`func(args) -> int`)."""
    nab = subparsers.add_parser(
        "evaluate-nab", help="score the detector on the 58-file NAB corpus",
        description="Run the production SeriesMonitor over every NAB file with one global configuration, "
                    "print the normalised NAB scores (standard, reward_low_FP_rate, reward_low_FN_rate) at "
                    "the optimised and the fixed production threshold, and write a JSON report.")
    nab_run.build_parser(nab)
    nab.set_defaults(func=_run_evaluate_nab)

    tep = subparsers.add_parser(
        "evaluate-tep", help="score the detector on the Tennessee Eastman benchmark, beside batch PCA",
        description="Commission one device (52 channels) on d00.dat, stream every dNN_te.dat through a "
                    "copy of it, and report per fault the detection rate, delay and false alarms before "
                    "the fault, beside a batch PCA T2/Q row computed in the same run.")
    tep_run.build_parser(tep)
    tep.set_defaults(func=_run_evaluate_tep)

    sc = subparsers.add_parser(
        "score-csv", help="score a CSV time series: score, anomalous, alert per row",
        description="Read a CSV with a timestamp column and one or more numeric columns (the sensors of "
                    "one device; column name = sensor name) and score it as the job scores a device: one "
                    "monitor per column plus one multivariate model (Hotelling T2) over all value columns. "
                    "Writes one row per input row: timestamp, score, anomalous, alert (0/1, combined), "
                    "model_score, top_sensors (the columns behind the joint score), <column>_score and "
                    "note.",
        epilog="Timestamps: ISO-8601 (naive = UTC) or epoch seconds/milliseconds. Empty cells are missing "
               "readings. Rows are judged in file order, as the job judges a device's readings in "
               "arrival order: a row older than the newest row judged before it is set aside (scores 0, "
               "note says why). Exit status 2 on unusable input, with the row and column in the message.")
    sc.add_argument("input", type=Path, metavar="INPUT", help="input CSV with a header row")
    sc.add_argument("output", type=Path, metavar="OUTPUT", help="output CSV to write")
    sc.add_argument("--timestamp-column", default="timestamp", help="name of the timestamp column "
                                                                     "(default: timestamp)")
    sc.add_argument("--config", type=Path, default=None,
                    help="JSON properties: MSF shape [{PropertyGroupId, PropertyMap}], "
                         "{\"detection\": {...}, \"thresholds\": {...}}, or a flat detection map")
    sc.add_argument("--device-id", default="csv", help="device id, for per-device threshold overrides")
    sc.add_argument("--baseline-rows", type=int, default=None, metavar="N",
                    help="commissioning period: the first N rows learn the baseline and raise no "
                         "statistical alert (default: the config's baseline_readings, 100)")
    sc.add_argument("--per-column", action="store_true",
                    help="score each column on its own (no multivariate model), as before whole-device mode")
    sc.set_defaults(func=_run_score_csv)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flink_job.evaluation.cli",
                                     description="Detection evaluation tools (NAB corpus, CSV scoring).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
