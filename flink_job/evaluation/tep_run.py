"""Score the production DeviceMonitor on the Tennessee Eastman benchmark, beside a batch PCA T²/Q row.

Protocol (../shared/datasets/TEP/SOURCE.md): the device is commissioned on ``d00.dat`` (500 normal
samples, stored transposed), then each ``dNN_te.dat`` (960 samples, the fault enters after sample 160)
streams through a copy of it, one reading of 52 channels every 3 minutes.  A row counts as flagged when
the device verdict is ``anomalous`` (an open episode of any part), exactly the column `score-csv` writes.

Reported per fault: detection rate (share of rows 160-959 flagged), detection delay (first flagged row
at or after 160, in samples), false alarms before the fault (share of rows 0-159 flagged); the false-alarm
rate on ``d00_te.dat``; the mean detection rate over the 18 customary faults (3, 9 and 15 excluded).

The ``pca`` row is the classic batch method computed here, in the same run: PCA on the standardised
training data (``--pca-components``, default 9), 99th-percentile limits of T² and Q (SPE) on the training
data, a row flagged when T² or Q exceeds its limit.  Our detector uses the one global configuration
(DetectionConfig defaults); only the commissioning length is set, to the training file's 500 rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from flink_job.core.detection import DetectionConfig, ThresholdConfig
from flink_job.core.detection.device import DeviceMonitor
from flink_job.evaluation.nab_run import props_from_args, save_report

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "build" / "reports" / "tep.json"
FAULT_ROW = 160  # rows before this are normal in every fault file
SAMPLE_MS = 180_000  # one sample every 3 minutes
ALL_FAULTS = tuple(range(1, 22))
CUSTOMARY_FAULTS = tuple(f for f in ALL_FAULTS if f not in (3, 9, 15))
CHANNELS = tuple([f"xmeas_{i:02d}" for i in range(1, 42)] + [f"xmv_{i:02d}" for i in range(1, 12)])
SERIES_FAULTS = (1, 5, 10, 16, 19, 21)  # per-row scores kept for the report's plots


def default_data_dir() -> Path:
    """$TEP_DIR, else <repo>/../shared/datasets/TEP."""
    env = os.environ.get("TEP_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "datasets" / "TEP"


def load(data_dir: Path, name: str) -> np.ndarray:
    """One TEP file as rows x 52 (d00.dat is stored transposed)."""
    path = data_dir / name
    if not path.exists():
        raise FileNotFoundError(f"{path}: TEP file missing")
    x = np.loadtxt(path)
    if x.ndim != 2 or len(CHANNELS) not in x.shape:
        raise ValueError(f"{path}: expected 52 columns, got shape {x.shape}")
    return x.T if x.shape[0] == len(CHANNELS) and x.shape[1] != len(CHANNELS) else x


def commissioned(train: np.ndarray, props: dict[str, str]) -> tuple[dict[str, Any], DetectionConfig]:
    """The device state after commissioning on the training rows (copied for every test file)."""
    cfg = DetectionConfig.from_properties({"baseline_readings": str(len(train)), **props})
    dev = DeviceMonitor("tep", cfg, ThresholdConfig())
    for i, row in enumerate(train):
        dev.update(i * SAMPLE_MS, dict(zip(CHANNELS, row.tolist(), strict=True)))
    return dev.to_state(), cfg


def run_file(args: tuple[dict[str, Any], DetectionConfig, str, np.ndarray, int]) -> dict[str, Any]:
    """Stream one test file through a copy of the commissioned device; per-row flags and scores."""
    state, cfg, name, rows, t0 = args
    dev = DeviceMonitor.from_state(state, "tep", cfg, ThresholdConfig())
    flags, scores, model_scores = [], [], []
    started = time.perf_counter()
    for i, row in enumerate(rows):
        v = dev.update(t0 + i * SAMPLE_MS, dict(zip(CHANNELS, row.tolist(), strict=True)))
        flags.append(v.anomalous)
        scores.append(v.score)
        model_scores.append(v.model.score if v.model is not None else 0.0)
    return {"name": name, "flags": np.array(flags), "scores": scores, "model_scores": model_scores,
            "seconds": time.perf_counter() - started}


def rates(flags: np.ndarray, faulty: bool) -> dict[str, Any]:
    """Detection rate, delay and false alarms before the fault for one file's flags."""
    if not faulty:
        return {"false_alarm_rate": round(float(flags.mean()), 4)}
    after = flags[FAULT_ROW:]
    hits = np.flatnonzero(after)
    return {"detection_rate": round(float(after.mean()), 4),
            "detection_delay": int(hits[0]) if hits.size else None,
            "false_alarms_before_fault": round(float(flags[:FAULT_ROW].mean()), 4)}


def summary(per_file: dict[int, np.ndarray]) -> dict[str, Any]:
    faults = {str(f): rates(per_file[f], True) for f in ALL_FAULTS}
    return {
        "mean_detection_rate": round(float(np.mean([faults[str(f)]["detection_rate"]
                                                    for f in CUSTOMARY_FAULTS])), 4),
        "false_alarm_rate": rates(per_file[0], False)["false_alarm_rate"],
        "false_alarm_rate_before_fault": round(float(np.mean([faults[str(f)]["false_alarms_before_fault"]
                                                              for f in CUSTOMARY_FAULTS])), 4),
        "faults": faults,
    }


def pca_flags(train: np.ndarray, tests: dict[int, np.ndarray], k: int,
              quantile: float = 0.99) -> tuple[dict[str, dict[int, np.ndarray]], dict[str, float]]:
    """Batch PCA: flags per file for T², Q and 'T² or Q'; limits are training percentiles."""
    mu, sd = train.mean(0), train.std(0, ddof=1)
    sd = np.where(sd > 0, sd, 1.0)
    z = (train - mu) / sd
    w, v = np.linalg.eigh(np.cov(z.T))
    order = np.argsort(w)[::-1][:k]
    p, lam = v[:, order], w[order]

    def stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        zx = (x - mu) / sd
        t = zx @ p
        return (t * t / lam).sum(1), ((zx - t @ p.T) ** 2).sum(1)

    t2_train, q_train = stats(train)
    lim_t2, lim_q = float(np.quantile(t2_train, quantile)), float(np.quantile(q_train, quantile))
    out: dict[str, dict[int, np.ndarray]] = {"T2": {}, "Q": {}, "T2 or Q": {}}
    for f, x in tests.items():
        t2, q = stats(x)
        out["T2"][f], out["Q"][f] = t2 > lim_t2, q > lim_q
        out["T2 or Q"][f] = out["T2"][f] | out["Q"][f]
    return out, {"T2": round(lim_t2, 3), "Q": round(lim_q, 3)}


def evaluate(data_dir: Path, props: dict[str, str] | None = None, workers: int = 2, pca_components: int = 9,
             progress: bool = True) -> dict[str, Any]:
    """Run the benchmark; returns the report written to tep.json."""
    props = dict(props or {})
    t_start = time.perf_counter()
    train = load(data_dir, "d00.dat")
    tests = {f: load(data_dir, f"d{f:02d}_te.dat") for f in (0, *ALL_FAULTS)}
    state, cfg = commissioned(train, props)
    t0 = len(train) * SAMPLE_MS
    jobs = [(state, cfg, f"d{f:02d}_te.dat", tests[f], t0) for f in tests]
    results: dict[int, dict[str, Any]] = {}
    ctx = get_context("spawn" if sys.platform == "darwin" else "fork")
    with ctx.Pool(max(1, workers)) as pool:
        for f, r in zip(tests, pool.imap(run_file, jobs), strict=True):
            results[f] = r
            if progress:
                tag = "normal" if f == 0 else f"fault {f:2d}"
                print(f"[{len(results):2d}/{len(tests)}] {r['name']} ({tag}): "
                      f"{int(r['flags'].sum())} of {len(r['flags'])} rows flagged, {r['seconds']:.1f} s",
                      flush=True)
    report = summary({f: r["flags"] for f, r in results.items()})
    pca, limits = pca_flags(train, tests, pca_components)
    report["pca"] = {"components": pca_components, "statistic": "T2 or Q", "limits": limits,
                     "limit_quantile": 0.99, **summary(pca["T2 or Q"]),
                     "T2": {k: v for k, v in summary(pca["T2"]).items() if k != "faults"},
                     "Q": {k: v for k, v in summary(pca["Q"]).items() if k != "faults"}}
    report["customary_faults"] = list(CUSTOMARY_FAULTS)
    report["config"] = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(cfg).items()}
    report["protocol"] = ("commissioned on d00.dat (500 rows); each dNN_te.dat streamed through a copy; "
                          "flagged = device verdict anomalous; fault after row 160")
    report["series"] = {str(f): {"score": [round(s, 4) for s in results[f]["scores"]],
                                 "anomalous": results[f]["flags"].astype(int).tolist(),
                                 "pca_flag": pca["T2 or Q"][f].astype(int).tolist()}
                        for f in SERIES_FAULTS}
    report["timing"] = {"wall_seconds": round(time.perf_counter() - t_start, 2),
                        "rows": int(sum(len(x) for x in tests.values()) + len(train)),
                        "monitor_seconds": round(sum(r["seconds"] for r in results.values()), 2)}
    return report


def format_table(report: dict[str, Any]) -> str:
    pca = report["pca"]
    lines = [f"{'fault':>5} {'rate':>6} {'delay':>6} {'FA pre':>7} | "
             f"{'PCA rate':>8} {'delay':>6} {'FA pre':>7}"]
    for f in ALL_FAULTS:
        a, b = report["faults"][str(f)], pca["faults"][str(f)]
        mark = "" if f in CUSTOMARY_FAULTS else "  (not customary)"
        lines.append(f"{f:5d} {a['detection_rate']:6.3f} {_delay(a):>6} "
                     f"{a['false_alarms_before_fault']:7.3f} | {b['detection_rate']:8.3f} {_delay(b):>6} "
                     f"{b['false_alarms_before_fault']:7.3f}{mark}")
    lines.append("")
    lines.append(f"{'':22} {'mean detection (18)':>20} {'false alarms d00_te':>20}")
    lines.append(f"{'ours (DeviceMonitor)':22} {report['mean_detection_rate']:20.3f} "
                 f"{report['false_alarm_rate']:20.3f}")
    for name, row in (("PCA T2 or Q", pca), ("PCA T2", pca["T2"]), ("PCA Q", pca["Q"])):
        lines.append(f"{name + ' (k=' + str(pca['components']) + ')':22} {row['mean_detection_rate']:20.3f} "
                     f"{row['false_alarm_rate']:20.3f}")
    return "\n".join(lines)


def _delay(r: dict[str, Any]) -> str:
    return "-" if r["detection_delay"] is None else str(r["detection_delay"])


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    p = parser or argparse.ArgumentParser(
        prog="python -m flink_job.evaluation.tep_run",
        description="Score the production detector on the Tennessee Eastman benchmark (commission on "
                    "d00.dat, stream d00_te..d21_te), beside batch PCA T2/Q, and write a JSON report.")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="folder with d00.dat and dNN_te.dat (default: $TEP_DIR, else ../shared/datasets/TEP)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"report path (default: {DEFAULT_OUT})")
    p.add_argument("--config", type=Path, default=None,
                   help="JSON object of detection properties overriding the defaults (string values)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one detection property (repeatable)")
    p.add_argument("--pca-components", type=int, default=9,
                   help="PCA components of the batch row (default 9)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    p.add_argument("--quiet", action="store_true", help="no per-file progress lines")
    return p


def run(args: argparse.Namespace) -> int:
    data_dir = args.data_dir or default_data_dir()
    if not (data_dir / "d00.dat").exists():
        print(f"error: no TEP data at {data_dir} (expected d00.dat)", file=sys.stderr)
        return 2
    report = evaluate(data_dir, props_from_args(args), workers=args.workers,
                      pca_components=args.pca_components, progress=not args.quiet)
    print()
    print(format_table(report))
    save_report(report, args.out)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
