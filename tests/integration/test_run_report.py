"""The run report renders in a real browser: headless Chromium (Debian's, `make system`) loads the page,
its script counts the plots drawn, and every plot is a PNG with something on it."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from flink_job.history.cli import parse_time
from flink_job.history.report import write_report

pytestmark = pytest.mark.integration
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "chromium is missing: `make system` installs Debian's chromium"
    return exe


def rendered(page: Path, screenshot: Path | None = None) -> tuple[int, int]:
    """(plots in the page, plots the browser drew), from the DOM after load; optionally a screenshot."""
    dom = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, "--virtual-time-budget=10000", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout
    body = re.search(r"<body[^>]*>", dom)
    assert body, dom[:500]
    attrs = dict(re.findall(r'data-([a-z-]+)="(\d+)"', body.group(0)))
    if screenshot is not None:
        subprocess.run(
            [chromium(), *CHROMIUM_FLAGS, "--window-size=1280,2400", f"--screenshot={screenshot}",
             page.resolve().as_uri()],
            capture_output=True, timeout=120, check=True,
        )  # fmt: skip
    return int(attrs.get("plots", 0)), int(attrs.get("plots-rendered", -1))


def plots_have_content(page: Path) -> list[float]:
    """The pixel spread of every embedded plot (0 would be a blank image)."""
    from PIL import Image, ImageStat

    spreads = []
    for b64 in re.findall(r'src="data:image/png;base64,([^"]+)"', page.read_text()):
        img = Image.open(io.BytesIO(base64.b64decode(b64))).convert("L")
        assert img.width > 200 and img.height > 100
        spreads.append(ImageStat.Stat(img).stddev[0])
    return spreads


def test_the_report_renders_every_plot_in_headless_chromium(tmp_path, write_archive):
    archive = write_archive(tmp_path / "archive", "2026-12-02", parse_time("2026-12-02T08:00:00Z"))
    page = write_report(archive, tmp_path / "report.html", "a run", {"events_sent": 7, "alerts_raised": 3},
                        latencies_s=[0.8, 1.2, 2.5, 9.0])
    # timeline, dead letters, latency, and the readings of the two devices with anomalies
    total, drawn = rendered(page, tmp_path / "report.png")
    assert total == drawn == 5
    assert all(spread > 5 for spread in plots_have_content(page))
    assert (tmp_path / "report.png").stat().st_size > 10_000
    text = page.read_text()
    assert "events_sent" in text and "Alerts on a timeline" in text and "Readings of m-1" in text


def test_an_empty_archive_still_gives_a_page(tmp_path):
    page = write_report(tmp_path, tmp_path / "report.html", "nothing yet", {"events_sent": 0})
    assert rendered(page) == (0, 0)
