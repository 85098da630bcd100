"""Backfill end to end: a live run archives a seeded recording (the real job on the minicluster, file
source, file:// archive); `iot-anomaly backfill` replays that archive with a lower temperature limit.

Then: the replay read exactly the archived readings of the range; its results are under
backfill/<run-id>/ and the live folders are untouched; the lower limit raises more threshold
alerts, and the summary sets them beside the live run's; progress was shown; the report renders.
"""

from __future__ import annotations

import hashlib
import json
import math

import pytest

from localdev.cli import main as cli
from localdev.demo import PLUGINS

pytestmark = pytest.mark.integration


def _json_or_none(line: str) -> dict:
    try:
        obj = json.loads(line)
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def _fingerprint(folder) -> dict[str, str]:  # noqa: ANN001
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_backfill_replays_the_archive_with_new_settings_beside_the_live_results(
    tmp_path, uber_jar, record_simulation, run_job, capsys
):
    recording = tmp_path / "recording.jsonl"
    sim = record_simulation(recording, devices=8, duration_s=600, seed=11, anomalies=6, malformed_share=0.01,
                            kinds=("drift", "spike", "level_shift"))
    archive = tmp_path / "archive"
    run_job({
        "source": {"kind": "file", "file_path": str(recording)},
        "sinks": {"timeseries.store": "none", "s3.archive_path": archive.as_uri() + "/"},
        "detection": {"silence_timeout_ms": "15000"},
        "local": {"jars": uber_jar.as_uri(), "plugins_dir": str(PLUGINS), "checkpoint_interval_ms": "2000"},
    }, tmp_path)  # its runtime properties stay beside the archive, as the demo's do
    live = {part: _fingerprint(archive / part) for part in ("raw", "anomalies", "dead-letters")}
    start, end = sim.config.start_ms, sim.config.start_ms + 600_000

    # a warning limit at the recording's median temperature: half the readings breach it, whatever
    # the simulated time of day made the temperatures this run
    values = (_json_or_none(line).get("temperature") for line in recording.read_text().splitlines())
    temps = sorted(t for t in values if isinstance(t, (int, float)) and math.isfinite(t))
    limit = f"{temps[len(temps) // 2]:.1f}"
    lower = ["--set", f"thresholds.temperature.warning_high={limit}"]
    code = cli(["backfill", "--archive", str(archive), "--from", str(start), "--to", str(end),
                "--run-id", "cooler", *lower])
    out = capsys.readouterr().out
    assert code == 0, out
    summary = json.loads(out.strip().splitlines()[-1])
    assert "readings in range" in out and "readings through the job and archived" in out  # progress

    assert summary["readings_replayed"] == sim.valid  # every archived reading of the range, no other
    assert summary["dead_letters"] == 0  # the archive holds valid readings only
    # the live run's settings, changed by --set only
    assert "settings of the live run from" in out
    assert summary["settings"] == {"detection": {"silence_timeout_ms": "15000"},
                                   "thresholds": {"temperature.warning_high": limit}}
    # written beside, never over, the live results
    assert {part: _fingerprint(archive / part) for part in live} == live
    output = archive / "backfill" / "cooler"
    assert (output / "summary.json").exists() and list((output / "anomalies").rglob("part-*"))
    # a lower limit: more alerts than live, the summary says which are new
    assert summary["live"]["alerts"] > 0
    assert summary["alerts"] > summary["live"]["alerts"]
    assert summary["only_in_backfill"] > 0
    assert summary["alerts_in_both"] + summary["only_live"] == summary["live"]["alerts"]
    # the report of the replay renders
    from test_run_report import rendered

    total, drawn = rendered(output / "report.html")
    assert total == drawn > 0

    # a second run with the same id would mix results: refused
    assert cli(["backfill", "--archive", str(archive), "--from", str(start), "--to", str(end),
                "--run-id", "cooler"]) == 2
    assert "exists" in capsys.readouterr().err
    # a misspelt key names the nearest one, before anything runs
    assert cli(["backfill", "--archive", str(archive), "--from", str(start), "--to", str(end),
                "--set", "detection.zscore_windw=10"]) == 2
    assert "did you mean 'zscore_window'" in capsys.readouterr().err
