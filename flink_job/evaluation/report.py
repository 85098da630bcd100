"""Static HTML report of the detector evaluation: `<reports_dir>/index.html` plus PNGs in `img/`.

Reads `nab.json` (written by `nab_run`) and `tep.json` (Tennessee Eastman evaluation) and only displays
what they contain; no score is recomputed here.  The NAB series values come from the corpus CSVs so the
per-file plots can show them with the label windows and alert rows.  Either JSON may be missing: the page
then says so and shows the other one.  Image links are relative, so the folder can be copied as is.

Evaluation-only module: matplotlib is imported lazily and always through the Agg canvas, never pyplot,
so it neither needs a display nor touches a caller's global backend.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from flink_job.evaluation.nab_run import REPO_ROOT, default_data_dir

DEFAULT_REPORTS_DIR = REPO_ROOT / "build" / "reports"
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
TEP_FAULT_ONSET = 160  # TEP test files introduce the fault after 160 samples (8 h at 3 min)
IMG_DIR = "img"
IMG_PREFIXES = ("nab_", "tep_")  # files in img/ this module owns and replaces on every run

# Small per-file plots: 58 of them must stay light and render in seconds.
SMALL_FIGSIZE = (6.0, 1.6)
SMALL_DPI = 80
CHART_DPI = 90

OURS_COLOR = "#1f77b4"
PCA_COLOR = "#9a9a9a"
FIXED_COLOR = "#ff7f0e"
WINDOW_COLOR = "#2ca02c"
HIT_COLOR = "#1f3fbf"
MISS_COLOR = "#d62728"
ANOM_COLOR = "#ff7f0e"

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:1.5em auto;
 max-width:1200px;padding:0 1em;color:#222;line-height:1.4}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f4f4f4} td.l,th.l{text-align:left}
tr:nth-child(even) td{background:#fafafa}
.notice{background:#fff4e5;border-left:4px solid #ff9800;padding:.6em 1em;margin:1em 0}
.headline{display:flex;gap:1.5em;flex-wrap:wrap;margin:1em 0}
.headline div{background:#f4f8fc;border:1px solid #d6e4f0;padding:.5em 1em;border-radius:4px}
.headline b{font-size:1.4em;display:block}
.grid{display:flex;flex-wrap:wrap;gap:.8em}
figure{margin:0} figcaption{font-size:.8em;color:#555;max-width:480px;word-break:break-all}
.muted{color:#777;font-size:.85em} pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:.8em}
"""


# ---------------------------------------------------------------- helpers


def _e(value: Any) -> str:
    """HTML-escape anything put into the page (file names, config values, error messages)."""
    return html.escape(str(value), quote=True)


def _num(value: Any) -> float | None:
    """A finite float, or None for missing / null / non-numeric / NaN values."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _fmt(value: Any, digits: int = 2, missing: str = "—") -> str:
    f = _num(value)
    return missing if f is None else f"{f:.{digits}f}"


def _pct(value: Any, digits: int = 1, missing: str = "—") -> str:
    f = _num(value)
    return missing if f is None else f"{100.0 * f:.{digits}f}%"


def _slug(text: str, limit: int = 60) -> str:
    """A file-name-safe fragment; callers prefix an index so slugs need not be unique."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")[:limit] or "x"


def _load_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(report, None) or (None, reason it could not be used)."""
    if not path.exists():
        return None, "missing"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        return None, f"unreadable ({e})"
    if not isinstance(data, dict):
        return None, "unreadable (top level is not a JSON object)"
    return data, None


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1,
           header_html: str | None = None) -> str:
    """Cells are HTML already (escape before); the first `left` columns are left-aligned."""
    def cls(i: int) -> str:
        return ' class="l"' if i < left else ""
    head = header_html
    if head is None:
        head = "<tr>" + "".join(f"<th{cls(i)}>{_e(h)}</th>" for i, h in enumerate(header)) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead>{head}</thead><tbody>{body}</tbody></table>"


def _img(rel: str, alt: str, width: int | None = None) -> str:
    w = f' width="{width}"' if width else ""
    return f'<img src="{_e(rel)}" alt="{_e(alt)}"{w} loading="lazy">'


def _details(summary: str, obj: Any) -> str:
    if obj is None:
        return ""
    return (f"<details><summary>{_e(summary)}</summary>"
            f"<pre>{_e(json.dumps(obj, indent=1, sort_keys=True, default=str))}</pre></details>")


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive [start, end] index ranges where flags is true."""
    f = np.concatenate(([0], (np.asarray(flags) != 0).astype(np.int8), [0]))
    d = np.diff(f)
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


# ---------------------------------------------------------------- plotting


class _Plotter:
    """Writes figures into img/ with the Agg canvas; keeps the relative links of what it wrote."""

    def __init__(self, img_dir: Path) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self._figure_cls = Figure
        self._canvas_cls = FigureCanvasAgg
        self.img_dir = img_dir
        img_dir.mkdir(parents=True, exist_ok=True)
        # Drop our images of an earlier run so the folder matches the page (e.g. fewer TEP series).
        for old in img_dir.iterdir():
            if old.is_file() and old.name.startswith(IMG_PREFIXES) and old.suffix == ".png":
                old.unlink()

    def figure(self, figsize: tuple[float, float]) -> Any:
        fig = self._figure_cls(figsize=figsize)
        self._canvas_cls(fig)  # binds the Agg canvas: rendering never depends on the global backend
        return fig

    def save(self, fig: Any, name: str, dpi: int) -> str:
        fig.savefig(self.img_dir / name, dpi=dpi, format="png")
        return f"{IMG_DIR}/{name}"


def _grouped_bars(plotter: _Plotter, name: str, labels: Sequence[str],
                  series: Sequence[tuple[str, Sequence[float | None], str]], ylabel: str,
                  figsize: tuple[float, float], ylim: tuple[float, float] | None = None,
                  value_labels: bool = False) -> str:
    fig = plotter.figure(figsize)
    ax = fig.add_subplot()
    x = np.arange(len(labels))
    width = 0.8 / max(len(series), 1)
    for i, (legend, values, color) in enumerate(series):
        ys = [np.nan if v is None else v for v in values]
        bars = ax.bar(x + (i - (len(series) - 1) / 2) * width, ys, width, label=legend, color=color)
        if value_labels:
            ax.bar_label(bars, labels=[_fmt(v) for v in values], fontsize=8, padding=2)
    ax.set_xticks(x, labels, fontsize=8)
    ax.axhline(0, color="#444", linewidth=0.8)
    ax.set_ylabel(ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    elif value_labels:
        ax.margins(y=0.12)  # room for the labels above the tallest bar
    ax.grid(axis="y", alpha=0.3)
    # Legend above the axes, right of the title: never hides a bar.
    ax.legend(fontsize=8, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=len(series), frameon=False,
              borderaxespad=0.2)
    fig.tight_layout()
    return plotter.save(fig, name, CHART_DPI)


def _nab_file_plot(plotter: _Plotter, name: str, values: np.ndarray, detail: Mapping[str, Any],
                   image_name: str) -> str:
    fig = plotter.figure(SMALL_FIGSIZE)
    ax = fig.add_axes((0.07, 0.14, 0.91, 0.72))
    x = np.arange(len(values))
    ax.plot(x, values, color="#333", linewidth=0.5)
    windows = [w.get("rows") for w in detail.get("windows") or [] if isinstance(w, Mapping)]
    windows = [(int(w[0]), int(w[1])) for w in windows if isinstance(w, Sequence) and len(w) == 2]
    for a, b in windows:
        ax.axvspan(a, b, color=WINDOW_COLOR, alpha=0.2, linewidth=0)
    probation = _num(detail.get("probation"))
    if probation:
        ax.axvline(probation, color="#999", linestyle=":", linewidth=0.8)
    rows = [int(a["row"]) for a in detail.get("alerts") or [] if _num(a.get("row")) is not None]
    rows = [r for r in rows if 0 <= r < len(values)]
    if rows:
        # Colour by position only (inside a label window or not); the scores come from nab.json.
        inside = [any(a <= r <= b for a, b in windows) for r in rows]
        for hit, color in ((True, HIT_COLOR), (False, MISS_COLOR)):
            rs = [r for r, i in zip(rows, inside, strict=True) if i == hit]
            if rs:
                ax.vlines(rs, 0, 1, transform=ax.get_xaxis_transform(), color=color, linewidth=0.8)
    ax.set_xlim(0, max(len(values) - 1, 1))
    ax.tick_params(labelsize=6, length=2, pad=1)
    ax.set_title(name, fontsize=7, loc="left", pad=2)
    return plotter.save(fig, image_name, SMALL_DPI)


def _tep_series_plot(plotter: _Plotter, fault: str, s: Mapping[str, Any], image_name: str) -> str | None:
    score = np.asarray([np.nan if _num(v) is None else v for v in s.get("score") or []], dtype=float)
    if score.size == 0:
        return None
    x = np.arange(score.size)
    fig = plotter.figure((7.0, 1.8))
    ax = fig.add_axes((0.07, 0.15, 0.91, 0.7))
    for key, color, height in (("anomalous", ANOM_COLOR, 1.0), ("pca_flag", PCA_COLOR, 0.08)):
        flags = np.asarray(s.get(key) or [], dtype=float)[: score.size]
        # Contiguous runs as spans: a few hundred patches at most, not one per row.
        for a, b in _runs(np.nan_to_num(flags)):
            ax.axvspan(a - 0.5, b + 0.5, ymin=0, ymax=height, color=color,
                       alpha=0.3 if key == "anomalous" else 0.9, linewidth=0)
    ax.plot(x, score, color=OURS_COLOR, linewidth=0.7)
    ax.axvline(TEP_FAULT_ONSET, color=MISS_COLOR, linestyle="--", linewidth=1)
    ax.set_xlim(0, max(score.size - 1, 1))
    ax.tick_params(labelsize=6, length=2, pad=1)
    ax.set_title(f"fault {fault}: score (line), anomalous rows (orange), PCA flags (grey strip), "
                 f"onset row {TEP_FAULT_ONSET} (dashed)", fontsize=7, loc="left", pad=2)
    return plotter.save(fig, image_name, SMALL_DPI)


# ---------------------------------------------------------------- NAB section


def _read_values(nab_dir: Path, name: str) -> tuple[np.ndarray | None, str | None]:
    data_root = (nab_dir / "data").resolve()
    path = (data_root / name).resolve()
    if not path.is_relative_to(data_root):  # a name from JSON must not read outside the corpus
        return None, "outside the data folder"
    if not path.is_file():
        return None, "data file not found"
    try:
        return pd.read_csv(path, usecols=["value"])["value"].to_numpy(dtype=float), None
    except (OSError, ValueError, KeyError) as e:
        return None, f"unreadable data file ({e})"


def _nab_section(report: Mapping[str, Any], nab_dir: Path, plotter: _Plotter) -> str:
    out = ["<h2 id=\"nab\">NAB (Numenta Anomaly Benchmark)</h2>"]
    threshold = report.get("threshold") if isinstance(report.get("threshold"), Mapping) else {}
    fixed = report.get("fixed_threshold") if isinstance(report.get("fixed_threshold"), Mapping) else {}
    optimised_th = threshold.get("optimised") if isinstance(threshold.get("optimised"), Mapping) else {}
    profiles = [p for p in PROFILES if p in report or p in fixed]

    out.append('<div class="headline">' + "".join(
        f"<div>{_e(p)}<b>{_fmt(report.get(p))}</b><span class=\"muted\">fixed threshold: "
        f"{_fmt(fixed.get(p))}</span></div>" for p in profiles) + "</div>")
    rows = []
    for p in profiles:
        th = optimised_th.get(p) if isinstance(optimised_th.get(p), Mapping) else {}
        rows.append([_e(p), _fmt(report.get(p)), _fmt(th.get("theta"), 4), _fmt(fixed.get(p)),
                     _fmt(threshold.get("fixed"), 4)])
    out.append(_table(["profile", "score (optimised θ)", "optimised θ", "score (fixed θ)", "fixed θ"], rows))
    if profiles:
        rel = _grouped_bars(
            plotter, "nab_scores.png", profiles,
            [("optimised threshold", [_num(report.get(p)) for p in profiles], OURS_COLOR),
             ("fixed (alert) threshold", [_num(fixed.get(p)) for p in profiles], FIXED_COLOR)],
            "normalised NAB score",
            (7.0, 3.0), value_labels=True)
        out.append(_img(rel, "NAB score per profile"))
        out.append('<p class="muted">Normalised NAB score: 100 = perfect detector, 0 = null detector. '
                   "The fixed threshold is our production alert threshold: it scores the alerts we send."
                   "</p>")
    if threshold.get("method"):
        out.append(f'<p class="muted">Optimised θ: {_e(threshold["method"])}. '
                   f'Score series: {_e(report.get("score_series", ""))}.</p>')

    files = report.get("files") if isinstance(report.get("files"), Mapping) else {}
    out.append(f"<h3>Per file ({len(files)} files)</h3>")
    header = ("<tr><th class=\"l\" rowspan=\"2\">file</th><th rowspan=\"2\">rows</th>"
              "<th rowspan=\"2\">windows</th><th rowspan=\"2\">alerts</th>"
              "<th colspan=\"3\">standard, fixed θ</th><th colspan=\"3\">standard, optimised θ</th></tr>"
              "<tr><th>TP</th><th>FP</th><th>score</th><th>TP</th><th>FP</th><th>score</th></tr>")
    table_rows, figures, problems = [], [], []
    for i, (name, detail) in enumerate(sorted(files.items())):
        if not isinstance(detail, Mapping):
            continue
        anchor = f"nab-file-{i}"
        std = (detail.get("score") or {}).get("standard") or {}
        fx, op = std.get("fixed") or {}, std.get("optimised") or {}
        table_rows.append([
            f'<a href="#{anchor}">{_e(name)}</a>', _e(detail.get("rows", "—")),
            str(len(detail.get("windows") or [])), str(len(detail.get("alerts") or [])),
            _e(fx.get("tp", "—")), _e(fx.get("fp", "—")), _fmt(fx.get("score"), 3),
            _e(op.get("tp", "—")), _e(op.get("fp", "—")), _fmt(op.get("score"), 3)])
        values, problem = _read_values(nab_dir, name)
        if values is None:
            problems.append(f"<li>{_e(name)}: {_e(problem)}</li>")
            continue
        rel = _nab_file_plot(plotter, name, values, detail, f"nab_{i:03d}_{_slug(name)}.png")
        figures.append(f'<figure id="{anchor}">{_img(rel, name)}<figcaption>{_e(name)}</figcaption></figure>')
    out.append(_table([], table_rows, header_html=header))

    out.append("<h3>Per-file series</h3>")
    out.append('<p class="muted">Values by row; green bands = NAB label windows; vertical lines = our '
               'alerts (blue inside a window, red outside); dotted line = end of the probation period '
               '(not scored).</p>')
    if problems:
        out.append(f'<div class="notice">No plot for {len(problems)} file(s) (NAB data folder '
                   f'<code>{_e(nab_dir)}</code>):<ul>{"".join(problems)}</ul></div>')
    out.append(f'<div class="grid">{"".join(figures)}</div>')
    timing = report.get("timing")
    if isinstance(timing, Mapping):
        out.append(f'<p class="muted">Run: {_e(timing.get("rows", "?"))} rows, '
                   f'{_e(timing.get("wall_seconds", "?"))} s wall.</p>')
    out.append(_details("detection config (nab.json)", report.get("config")))
    return "\n".join(out)


# ---------------------------------------------------------------- TEP section


def _fault_key(k: str) -> tuple[int, str]:
    return (int(k), k) if str(k).isdigit() else (10**9, str(k))


def _delay(value: Any) -> str:
    f = _num(value)
    return "not detected" if f is None else f"{f:g}"


def _tep_section(report: Mapping[str, Any], plotter: _Plotter) -> str:
    out = ['<h2 id="tep">Tennessee Eastman Process</h2>']
    pca = report.get("pca") if isinstance(report.get("pca"), Mapping) else {}
    ours_faults = report.get("faults") if isinstance(report.get("faults"), Mapping) else {}
    pca_faults = pca.get("faults") if isinstance(pca.get("faults"), Mapping) else {}
    customary = {str(f) for f in report.get("customary_faults") or []}
    pca_name = f"PCA ({_e(pca.get('components', '?'))} components, {_e(pca.get('statistic', '?'))})"

    def card(label: str, ours: Any, base: Any) -> str:
        return (f"<div>{_e(label)}<b>{_pct(ours)}</b>"
                f"<span class=\"muted\">PCA baseline: {_pct(base)}</span></div>")

    out.append('<div class="headline">'
               + card("mean detection rate", report.get("mean_detection_rate"),
                      pca.get("mean_detection_rate"))
               + card("false-alarm rate (fault-free d00_te)", report.get("false_alarm_rate"),
                      pca.get("false_alarm_rate"))
               + card("false alarms before fault onset", report.get("false_alarm_rate_before_fault"),
                      pca.get("false_alarm_rate_before_fault"))
               + "</div>")
    fault_set = (f'Customary fault set (marked *): {_e(", ".join(sorted(customary, key=_fault_key)))}. '
                 if customary else "")
    out.append(f'<p class="muted">{fault_set}Baseline: {pca_name}.</p>')

    faults = sorted({str(k) for k in ours_faults} | {str(k) for k in pca_faults}, key=_fault_key)
    if faults:
        def get(src: Mapping[str, Any], f: str, key: str) -> Any:
            d = src.get(f)
            return d.get(key) if isinstance(d, Mapping) else None

        rel = _grouped_bars(
            plotter, "tep_detection_rate.png", [f + ("*" if f in customary else "") for f in faults],
            [("ours", [_num(get(ours_faults, f, "detection_rate")) for f in faults], OURS_COLOR),
             ("PCA", [_num(get(pca_faults, f, "detection_rate")) for f in faults], PCA_COLOR)],
            "detection rate",
            (max(7.0, 0.45 * len(faults) + 1.5), 3.0), ylim=(0.0, 1.05))
        out.append(_img(rel, "TEP detection rate per fault"))
        out.append('<p class="muted">Detection rate = share of rows flagged after the fault onset.</p>')
        header = ("<tr><th class=\"l\" rowspan=\"2\">fault</th><th colspan=\"3\">ours</th>"
                  "<th colspan=\"3\">PCA</th></tr><tr>"
                  + "<th>detection rate</th><th>delay (samples)</th><th>false alarms before fault</th>" * 2
                  + "</tr>")
        rows = [[_e(f) + ("*" if f in customary else "")]
                + [cell for src in (ours_faults, pca_faults)
                   for cell in (_pct(get(src, f, "detection_rate")),
                                _e(_delay(get(src, f, "detection_delay"))),
                                _pct(get(src, f, "false_alarms_before_fault")))]
                for f in faults]
        out.append(_table([], rows, header_html=header))
        out.append('<p class="muted">Delay = <code>detection_delay</code> from tep.json: samples (3 min '
                   f'each) from the fault onset (row {TEP_FAULT_ONSET}) to the first detection.</p>')
    else:
        out.append('<div class="notice">tep.json has no per-fault results.</div>')

    series = report.get("series")
    if isinstance(series, Mapping) and series:
        figures = []
        for i, fault in enumerate(sorted(series, key=_fault_key)):
            s = series[fault]
            if not isinstance(s, Mapping):
                continue
            rel = _tep_series_plot(plotter, str(fault), s, f"tep_series_{i:02d}_{_slug(str(fault))}.png")
            if rel:
                figures.append(f"<figure>{_img(rel, f'fault {fault} score')}"
                               f"<figcaption>fault {_e(fault)}</figcaption></figure>")
        out.append(f"<h3>Score series ({len(figures)} faults)</h3>")
        out.append(f'<div class="grid">{"".join(figures)}</div>')
    out.append(_details("config (tep.json)", report.get("config")))
    out.append(_details("timing (tep.json)", report.get("timing")))
    return "\n".join(out)


# ---------------------------------------------------------------- page


def write_report(reports_dir: Path, nab_dir: Path | None = None) -> Path:
    """Render `reports_dir/index.html` (+ `img/*.png`) from nab.json and tep.json; returns its path."""
    reports_dir = Path(reports_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    nab_dir = Path(nab_dir) if nab_dir is not None else default_data_dir()
    plotter = _Plotter(reports_dir / IMG_DIR)
    nab_report, nab_problem = _load_json(reports_dir / "nab.json")
    tep_report, tep_problem = _load_json(reports_dir / "tep.json")

    notices = []
    for fname, problem, how in (
            ("nab.json", nab_problem, "python -m flink_job.evaluation.nab_run"),
            ("tep.json", tep_problem, "the TEP evaluation")):
        if problem:
            notices.append(f'<div class="notice"><code>{_e(reports_dir / fname)}</code> is {_e(problem)}: '
                           f'its section is not shown (produce it with {_e(how)}).</div>')

    sections = []
    if nab_report is not None:
        sections.append(_nab_section(nab_report, nab_dir, plotter))
    if tep_report is not None:
        sections.append(_tep_section(tep_report, plotter))
    toc = " · ".join(link for ok, link in ((nab_report is not None, '<a href="#nab">NAB</a>'),
                                           (tep_report is not None, '<a href="#tep">TEP</a>')) if ok)
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>Detector evaluation</title><style>{CSS}</style></head><body>\n"
        "<h1>Detector evaluation</h1>"
        f'<p class="muted">Generated {_e(time.strftime("%Y-%m-%d %H:%M:%S %Z"))} from '
        f"<code>{_e(reports_dir)}</code>. {toc}</p>\n"
        + "\n".join(notices) + "\n" + "\n".join(sections) + "\n</body></html>\n")
    index = reports_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m flink_job.evaluation.report",
        description="Render the evaluation report: reads nab.json and tep.json from --reports-dir and "
                    "writes index.html plus img/*.png beside them (relative links, copyable folder). "
                    "A missing JSON is reported in the page; the other one is still rendered.")
    p.add_argument("--reports-dir", type=Path, default=DEFAULT_REPORTS_DIR,
                   help=f"folder with nab.json / tep.json, and where the page goes (default: "
                        f"{DEFAULT_REPORTS_DIR})")
    p.add_argument("--nab-dir", type=Path, default=None,
                   help="NAB corpus folder with data/<category>/<file>.csv, for the per-file plots "
                        "(default: $NAB_DIR, else <repo>/../shared/datasets/NAB)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    print(write_report(args.reports_dir, args.nab_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
