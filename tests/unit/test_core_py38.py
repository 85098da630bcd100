"""The pure-Python core imports and runs on Python 3.8, the Python of MSF Studio notebooks, and scores
bit for bit alike on 3.8, here (3.11) and on 3.12, MSF's Python for the job.

Studio (ZEPPELIN-FLINK-3_0) is Flink 1.15 / Python 3.8; the backtest note runs the project's own
detectors there, so flink_job.core must stay 3.8-compatible (no dataclass slots, no runtime
``X | Y``, no ``zip(strict=...)``, no ``datetime.UTC``). pyenv on our machines holds 3.8.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from localdev.interpreters import find_python

REPO = Path(__file__).resolve().parents[2]
CORE_FILES = sorted((REPO / "flink_job" / "core").rglob("*.py")) + [
    REPO / "flink_job" / "evaluation" / "nab.py"
]


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_core_parses_with_the_python38_grammar(path):
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 8))


SCRIPT = """
import random
from flink_job.core.detection.config import DetectionConfig, ThresholdConfig
from flink_job.core.detection.monitor import SeriesMonitor
from flink_job.core.events import anomaly_event
from flink_job.core.records import parse_reading

det = DetectionConfig.from_properties({"zscore_window": "500",
                                       "detectors": "zscore,ewma,mad,roc,flatline,seasonal"})
th = ThresholdConfig.from_properties({"device.m-1.temperature.critical_high": "95"})
mon = SeriesMonitor("m-1", "temperature", det, th)
rng = random.Random(1)
verdicts = mon.update_many([i * 1000 for i in range(300)], [60 + rng.gauss(0, 1) for _ in range(300)])
spike = mon.update(300_000, 96.0)
assert spike.alert and spike.severity == "critical", spike
again = SeriesMonitor.from_state(mon.to_state(), "m-1", "temperature", det, th)
assert again.to_state() == mon.to_state()
from flink_job.core.detection.device import DeviceMonitor
dev = DeviceMonitor("m-1", det, th)
for i in range(300):
    load = rng.gauss(0, 1)
    dev.update(i * 1000, {"temperature": 60 + 2 * load, "pressure": 5 + load + rng.gauss(0, 0.1)})
v = dev.update(300_000, {"temperature": 64.0, "pressure": 3.0})
assert v.model is not None and v.model.score > 0.9, v
assert DeviceMonitor.from_state(dev.to_state(), "m-1", det, th).to_state() == dev.to_state()
assert parse_reading('{"device_id": "m-1", "ts": 1700000000000, "pressure": 5}', 1700000000000).ok
assert anomaly_event("m-1", "temperature", 0, 1.0, 1.0, "critical", "threshold", True, True, "x")["time"]
from flink_job.core.schema import GROUPS, reference_markdown, document
assert "zscore_window" in reference_markdown() and "detection" in GROUPS
assert document({"detection": {"ewma_lambda": 0.2}})[0]["PropertyMap"] == {"ewma_lambda": "0.2"}
print("core ok on", __import__("sys").version.split()[0])
"""


def test_core_runs_on_python38():
    py38 = find_python("3.8")
    if py38 is None:
        pytest.skip("no Python 3.8 interpreter here (pyenv install 3.8 to run this check)")
    done = subprocess.run([py38, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "core ok on 3.8" in done.stdout


# Every score, verdict and the final state of devices whose sensors move together, with pressure spikes
# the multivariate model must score: a digest, so any difference in any bit shows.
SCORES = """
import hashlib, random, sys
from flink_job.core.detection.config import DetectionConfig, ThresholdConfig
from flink_job.core.detection.device import DeviceMonitor
digest, rng = hashlib.sha256(), random.Random(7)
for d in range(3):
    dev = DeviceMonitor(f"m-{d}", DetectionConfig(), ThresholdConfig())
    for i in range(2500):
        load = rng.gauss(0, 1)
        values = {"temperature": 60 + 2 * load + rng.gauss(0, 0.3), "pressure": 5 + load + rng.gauss(0, 0.1),
                  "vibration": 1 + 0.1 * load * load + rng.gauss(0, 0.05)}
        if i and i % 997 == 0:
            values["pressure"] += 3
        v = dev.update(i * 1000, values)
        digest.update(repr((v.model.score if v.model else None, v.alert)).encode())
        digest.update(repr(sorted((s, x.score, x.alert) for s, x in v.sensors.items())).encode())
    digest.update(repr(dev.to_state()).encode())
print(digest.hexdigest())
"""


@pytest.mark.parametrize("version", ["3.8", "3.12"])
def test_scores_are_bit_identical_on_other_pythons(version):
    """3.12's ``sum`` of floats compensates; a score summed with it differed from 3.11's in the last bits."""
    exe = find_python(version)
    if exe is None:
        pytest.skip(f"no Python {version} interpreter here (pyenv install {version} to run this check)")
    here, there = (subprocess.run([py, "-c", SCORES], cwd=REPO, capture_output=True, text=True, timeout=300)
                   for py in (sys.executable, exe))
    assert here.returncode == 0 and there.returncode == 0, here.stderr + there.stderr
    assert there.stdout == here.stdout, f"Python {version} scores differ from {sys.version.split()[0]}'s"
