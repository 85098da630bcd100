"""Run the production SeriesMonitor over the NAB corpus and score it (SCORING.md).

NAB score of a row = the verdict's score at an alert onset, 0 elsewhere: exactly what the job sends to
SNS, so a detection is an alert.  The fixed-threshold score therefore counts our production alerts;
the optimised score lets NAB's oracle raise theta above our alert threshold (exact sweep over every
distinct score value).  One DetectionConfig for all files; NAB files run as sensor "value", which has
no static thresholds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flink_job.core.detection import DetectionConfig, SeriesMonitor, ThresholdConfig
from flink_job.core.detection.order import in_order
from flink_job.evaluation import nab

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "build" / "reports" / "nab.json"


def default_data_dir() -> Path:
    """$NAB_DIR, else <repo>/../shared/datasets/NAB."""
    env = os.environ.get("NAB_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "datasets" / "NAB"


def run_file(args: tuple[str, str, dict[str, str]]) -> dict[str, Any]:
    """Score one file with a fresh monitor; returns rows, windows and per-row NAB scores."""
    data_dir, name, props = args
    root = Path(data_dir)
    df = pd.read_csv(root / "data" / name)
    ts = pd.to_datetime(df["timestamp"]).to_numpy(dtype="datetime64[ns]")
    ts_ms = (ts.astype(np.int64) // 1_000_000).tolist()
    values = df["value"].astype(float).tolist()
    cfg = DetectionConfig.from_properties(props)
    monitor = SeriesMonitor(f"nab:{name}", "value", cfg, ThresholdConfig())
    # Rows in file order, as the job judges a device's readings in arrival order: a row older than the
    # newest judged is set aside with score 0 (one file has them: machine_temperature repeats an hour).
    judged = [i for i, ok in enumerate(in_order(ts_ms)) if ok]
    t0 = time.perf_counter()
    verdicts = monitor.update_many([ts_ms[i] for i in judged], [values[i] for i in judged])
    elapsed = time.perf_counter() - t0
    scores = np.zeros(len(values))
    scores[judged] = [v.score if v.alert else 0.0 for v in verdicts]
    labels = json.loads((root / "labels" / "combined_windows.json").read_text())[name]
    windows = nab.windows_to_rows(ts, [(np.datetime64(a), np.datetime64(b)) for a, b in labels])
    alerted = {i: v for i, v in zip(judged, verdicts, strict=True) if v.alert}  # row -> verdict
    alerts = list(alerted)
    return {"name": name, "rows": len(values), "windows": windows, "window_labels": labels,
            "scores": scores, "alerts": alerts, "timestamps": [str(t)[:19] for t in ts[alerts]],
            "detectors": [list(alerted[i].detectors) for i in alerts], "set_aside": len(values) - len(judged),
            "seconds": elapsed}


def list_files(data_dir: Path) -> list[str]:
    labels = json.loads((data_dir / "labels" / "combined_windows.json").read_text())
    return sorted(labels)


def evaluate(data_dir: Path, props: Mapping[str, str] | None = None, workers: int = 2,
             progress: bool = True) -> dict[str, Any]:
    """Score the corpus; returns the report dict written to nab.json."""
    props = dict(props or {})
    cfg = DetectionConfig.from_properties(props)  # fail fast, before forking workers
    names = list_files(data_dir)
    jobs = [(str(data_dir), name, props) for name in names]
    t0 = time.perf_counter()
    results: list[dict[str, Any]] = []
    if workers > 1:
        with get_context("spawn" if sys.platform == "darwin" else "fork").Pool(workers) as pool:
            for r in pool.imap(run_file, jobs):
                results.append(r)
                if progress:
                    _progress(len(results), len(names), r)
    else:
        for job in jobs:
            results.append(run_file(job))
            if progress:
                _progress(len(results), len(names), results[-1])
    wall = time.perf_counter() - t0

    report: dict[str, Any] = {}
    per_profile_files: dict[str, list[tuple[np.ndarray, nab.RowWeights]]] = {}
    for pname, profile in nab.PROFILES.items():
        per_profile_files[pname] = [(r["scores"], nab.row_weights(r["rows"], r["windows"], profile))
                                    for r in results]
    threshold_info: dict[str, Any] = {"fixed": cfg.alert_threshold, "method": (
        "exact sweep over every distinct per-row score (sorted once, incremental raw score)"),
        "optimised": {}}
    fixed: dict[str, Any] = {}
    file_detail: dict[str, dict[str, Any]] = {r["name"]: {
        "rows": r["rows"], "probation": nab.probation_length(r["rows"]),
        "windows": [{"labels": lab, "rows": list(w)} for lab, w in zip(r["window_labels"], r["windows"],
                                                                        strict=False)],
        "alerts": [{"row": i, "timestamp": t, "score": round(float(r["scores"][i]), 4), "detectors": d}
                   for i, t, d in zip(r["alerts"], r["timestamps"], r["detectors"], strict=True)],
        "set_aside": r["set_aside"], "monitor_seconds": round(r["seconds"], 3), "score": {}}
        for r in results}
    for pname, profile in nab.PROFILES.items():
        files = per_profile_files[pname]
        sweep = nab.optimise_threshold(files, profile)
        report[pname] = round(sweep.normalised, 2)
        threshold_info["optimised"][pname] = {"theta": sweep.theta, "raw": round(sweep.raw, 4),
                                              "candidates": sweep.candidates}
        raw_fixed, norm_fixed, per_file = nab.score_corpus(files, cfg.alert_threshold, profile)
        fixed[pname] = round(norm_fixed, 2)
        _, _, per_file_opt = nab.score_corpus(files, sweep.theta, profile)
        for r, fr_fixed, fr_opt in zip(results, per_file, per_file_opt, strict=True):
            file_detail[r["name"]]["score"][pname] = {
                "fixed": _file_json(fr_fixed), "optimised": _file_json(fr_opt)}
    report["fixed_threshold"] = fixed
    report["threshold"] = threshold_info
    report["config"] = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(cfg).items()}
    report["score_series"] = "verdict.score at alert onsets, 0 elsewhere"
    report["timing"] = {"wall_seconds": round(wall, 2), "rows": sum(r["rows"] for r in results),
                        "monitor_seconds": round(sum(r["seconds"] for r in results), 2)}
    report["files"] = file_detail
    return report


def _file_json(fr: nab.FileResult) -> dict[str, Any]:
    return {"score": round(fr.score, 4), "detections": fr.detections, "tp": fr.true_positives,
            "fn": fr.false_negatives, "fp": fr.false_positives}


def _progress(done: int, total: int, r: dict[str, Any]) -> None:
    print(f"[{done:2d}/{total}] {r['name']:<55} rows={r['rows']:6d} windows={len(r['windows'])} "
          f"alerts={len(r['alerts']):3d} {r['seconds']:.2f}s", flush=True)


def format_table(report: dict[str, Any], category: str | None = None) -> str:
    """Per-file table (standard profile) plus the corpus scores."""
    lines = [f"{'file':<55} {'rows':>6} {'win':>3} {'alerts':>6} {'TP':>3} {'FP':>3} "
             f"{'score(opt)':>10} {'score(fixed)':>12}"]
    for name, d in report["files"].items():
        if category and not name.startswith(category + "/"):
            continue
        s = d["score"]["standard"]
        lines.append(f"{name:<55} {d['rows']:6d} {len(d['windows']):3d} {len(d['alerts']):6d} "
                     f"{s['optimised']['tp']:3d} {s['optimised']['fp']:3d} "
                     f"{s['optimised']['score']:10.3f} {s['fixed']['score']:12.3f}")
    lines.append("")
    lines.append(f"{'profile':<22} {'optimised':>9} {'theta':>8} {'fixed':>7}")
    for pname in nab.PROFILES:
        th = report["threshold"]["optimised"][pname]["theta"]
        lines.append(f"{pname:<22} {report[pname]:9.2f} {th:8.4f} {report['fixed_threshold'][pname]:7.2f}")
    lines.append(f"(fixed threshold = alert_threshold {report['threshold']['fixed']}; "
                 f"{report['threshold']['method']})")
    return "\n".join(lines)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(
        prog="python -m flink_job.evaluation.nab_run",
        description="Score the production detector on all 58 NAB files (standard, reward_low_FP_rate, "
                    "reward_low_FN_rate; optimised and fixed threshold) and write a JSON report.")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="NAB folder with data/ and labels/ "
                        "(default: $NAB_DIR, else <repo>/../shared/datasets/NAB)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"report path (default: {DEFAULT_OUT})")
    p.add_argument("--config", type=Path, default=None,
                   help="JSON object of detection properties overriding the defaults (string values)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one detection property (repeatable)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    p.add_argument("--category", default="realKnownCause",
                   help="category whose per-file table is printed (default: realKnownCause; 'all' for all)")
    p.add_argument("--quiet", action="store_true", help="no per-file progress lines")
    return p


def props_from_args(args: argparse.Namespace) -> dict[str, str]:
    props: dict[str, str] = {}
    if args.config:
        props.update({k: str(v) for k, v in json.loads(Path(args.config).read_text()).items()})
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        props[key.strip()] = value.strip()
    return props


def run(args: argparse.Namespace) -> int:
    data_dir = args.data_dir or default_data_dir()
    if not (data_dir / "labels" / "combined_windows.json").exists():
        print(f"error: no NAB corpus at {data_dir} (expected labels/combined_windows.json)", file=sys.stderr)
        return 2
    report = evaluate(data_dir, props_from_args(args), workers=args.workers, progress=not args.quiet)
    print()
    print(format_table(report, None if args.category == "all" else args.category))
    save_report(report, args.out)
    return 0


def save_report(report: dict[str, Any], out: Path) -> None:
    """Write an evaluation report (JSON) and say where, with its size and time (NAB and TEP runners)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}  ({report['timing']['rows']} rows in {report['timing']['wall_seconds']} s)")


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
