"""The run report: one static HTML page with the plots of a run (``make demo``, ``iot-anomaly backfill``).

Plots are PNGs drawn with matplotlib (pinned) and embedded in the page, so the file stands alone:
readings per device with anomalies and alerts marked, alerts on a timeline, dead letters by reason,
the alert latency histogram (when the run measured it) and the counts of the run's JSON summary.
A small script in the page marks ``<body data-plots-rendered=N>`` once the browser has drawn N plots
(the tests read it back from headless Chromium).
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flink_job.core.records import SENSORS
from flink_job.history import engine

MAX_DEVICES = 8  # reading plots: the devices with the most alerts (then anomalies) first
SEVERITY_COLOURS = {"warning": "#f0a030", "critical": "#d62728", "ok": "#7f7f7f"}


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _times(ms: Sequence[int]) -> list[datetime]:
    return [datetime.fromtimestamp(t / 1000, UTC) for t in ms]


def _rows(con: Any, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def _device_plots(con: Any) -> list[tuple[str, str]]:
    import matplotlib.pyplot as plt

    ranked = _rows(con, "SELECT device_id, sum(CASE WHEN alert THEN 1 ELSE 0 END) AS a, count(*) AS n "
                        "FROM anomalies GROUP BY device_id ORDER BY a DESC, n DESC, device_id LIMIT ?",
                   [MAX_DEVICES])
    plots = []
    for device, alerts, rows in ranked:
        columns = ", ".join(SENSORS)
        readings = _rows(con, f"SELECT ts, {columns} FROM readings WHERE device_id = ? ORDER BY ts", [device])
        flagged = _rows(con, "SELECT ts, sensor, value, alert, severity FROM anomalies "
                             "WHERE device_id = ? AND value IS NOT NULL ORDER BY ts", [device])
        sensors = [s for i, s in enumerate(SENSORS) if any(r[i + 1] is not None for r in readings)]
        if not readings or not sensors:
            continue
        fig, axes = plt.subplots(
            len(sensors), 1, figsize=(11, 1.9 * len(sensors)), sharex=True, squeeze=False)
        for ax, sensor in zip(axes[:, 0], sensors, strict=True):
            i = SENSORS.index(sensor) + 1
            pts = [(r[0], r[i]) for r in readings if r[i] is not None]
            ax.plot(_times([p[0] for p in pts]), [p[1] for p in pts], lw=0.7, color="#1f77b4")
            mine = [f for f in flagged if f[1] == sensor]
            episode = [f for f in mine if not f[3]]
            onset = [f for f in mine if f[3]]
            ax.scatter(_times([f[0] for f in episode]), [f[2] for f in episode], s=6, color="#ff7f0e",
                       label="anomalous", zorder=3)
            ax.scatter(_times([f[0] for f in onset]), [f[2] for f in onset], s=70, marker="v",
                       color=[SEVERITY_COLOURS.get(f[4], "k") for f in onset], label="alert", zorder=4)
            ax.set_ylabel(sensor)
            ax.grid(alpha=0.3)
        axes[0, 0].set_title(f"{device}: {alerts} alerts, {rows} anomaly rows")
        axes[0, 0].legend(loc="upper left", fontsize=8)
        plots.append((f"Readings of {device}", _png(fig)))
    return plots


def _timeline(con: Any) -> tuple[str, str] | None:
    import matplotlib.pyplot as plt

    alerts = _rows(con, "SELECT ts, device_id, sensor, severity FROM anomalies WHERE alert ORDER BY ts")
    if not alerts:
        return None
    devices = sorted({a[1] for a in alerts})
    fig, ax = plt.subplots(figsize=(11, 0.35 * len(devices) + 1.5))
    for sev, colour in SEVERITY_COLOURS.items():
        mine = [a for a in alerts if a[3] == sev]
        if mine:
            ax.scatter(_times([a[0] for a in mine]), [devices.index(a[1]) for a in mine], color=colour,
                       s=40, label=sev)
    ax.set_yticks(range(len(devices)), devices, fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"{len(alerts)} alerts")
    return "Alerts on a timeline", _png(fig)


def _dead_letters(con: Any) -> tuple[str, str] | None:
    import matplotlib.pyplot as plt

    rows = engine.run(con, "dead-letters-by-reason", day_from="0000-01-01", day_to="9999-12-31").rows
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(11, 0.35 * len(rows) + 1.2))
    ax.barh([r[0][:60] for r in rows][::-1], [r[1] for r in rows][::-1], color="#8c564b")
    ax.set_xlabel("records")
    ax.set_title(f"{sum(r[1] for r in rows)} dead letters by reason")
    return "Dead letters by reason", _png(fig)


def _latency(latencies_s: Sequence[float]) -> tuple[str, str] | None:
    import matplotlib.pyplot as plt

    if not latencies_s:
        return None
    fig, ax = plt.subplots(figsize=(11, 3))
    ax.hist(latencies_s, bins=min(40, max(5, len(latencies_s) // 2)), color="#2ca02c")
    ax.set_xlabel("seconds from the reading's put to its alert's delivery")
    ax.set_ylabel("alerts")
    ax.set_title(f"Alert latency ({len(latencies_s)} alerts)")
    return "Alert latency", _png(fig)


def _counts(summary: dict[str, Any]) -> str:
    rows = []
    for key, value in summary.items():
        shown = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        rows.append(f"<tr><th>{html.escape(key)}</th><td>{html.escape(shown[:300])}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def write_report(
    archive: Path, out: Path, title: str, summary: dict[str, Any], latencies_s: Sequence[float] = ()
) -> Path:
    """Write the HTML report of the run whose archive is ``archive``; returns its path."""
    import matplotlib

    matplotlib.use("Agg")
    con = engine.connect(archive)
    plots = [p for p in (_timeline(con), _dead_letters(con), _latency(latencies_s)) if p] + _device_plots(con)
    figures = "".join(
        f'<figure><figcaption>{html.escape(caption)}</figcaption>'
        f'<img class="plot" alt="{html.escape(caption)}" src="data:image/png;base64,{png}"></figure>'
        for caption, png in plots
    )
    written = datetime.now(UTC).isoformat(timespec="seconds")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
figure {{ margin: 1.5em 0; }} figcaption {{ font-weight: bold; margin-bottom: .4em; }}
img.plot {{ max-width: 100%; border: 1px solid #ddd; }}
table {{ border-collapse: collapse; }}
th, td {{ text-align: left; padding: .2em .8em; border-bottom: 1px solid #eee; }}
</style></head>
<body data-plots="{len(plots)}">
<h1>{html.escape(title)}</h1>
<p>Archive: <code>{html.escape(str(archive))}</code>; written {written}</p>
<h2>Counts</h2>
{_counts(summary)}
<h2>Plots</h2>
{figures}
<script>
window.addEventListener("load", () => {{
  const drawn = [...document.querySelectorAll("img.plot")].filter(i => i.complete && i.naturalWidth > 0);
  document.body.dataset.plotsRendered = String(drawn.length);
}});
</script>
</body></html>
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return out
