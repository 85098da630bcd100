"""The detection core compiled by mypyc (``localdev.native``) decides exactly what its source decides.

One scenario (a simulated fleet with every anomaly kind, then hostile values: NaN, infinities,
huge and tiny magnitudes, a stuck run, a relearn request, a device whose sensors come and go) runs
twice in subprocesses: once on the repository (compiled, when built) and once on a copy of its
sources alone (pure Python). Every verdict field (floats as exact bit patterns) and every device's
final state must be the same, for this interpreter's build and for the build for MSF's Python
(3.12, which the MSF zip ships). ``make test`` builds both first; without a build the comparison
would be pure against pure, so it is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flink_job.core import compiled
from localdev import native
from localdev.interpreters import find_python

REPO = Path(__file__).resolve().parents[2]

SCENARIO = textwrap.dedent("""
    import json, math, struct, sys
    import flink_job.core.detection.monitor as monitor_module
    from flink_job.core.detection.config import BaselineConfig, DetectionConfig, ThresholdConfig
    from flink_job.core.detection.device import DeviceMonitor
    from flink_job.core.records import parse_reading
    from localdev.simulator import SimulationConfig, generate

    def exact(x):
        if isinstance(x, float):
            return struct.pack("<d", x).hex()
        if isinstance(x, (list, tuple)):
            return [exact(v) for v in x]
        if isinstance(x, dict):
            return {k: exact(v) for k, v in sorted(x.items())}
        return x

    det = DetectionConfig.from_properties({"baseline_readings": "60", "baseline_ms": "60000",
                                           "detectors": "zscore,ewma,mad,roc,flatline,seasonal"})
    th = ThresholdConfig.from_properties({})
    base = BaselineConfig.from_properties({"relearn.machine-0002": "1700000900000"})
    devices = {}
    out = []

    def judge(device_id, ts, values):
        dev = devices.get(device_id)
        if dev is None:
            dev = devices[device_id] = DeviceMonitor(device_id, det, th, base)
        v = dev.update(ts, values)
        out.append([device_id, ts, exact(v.contributors),
                    {s: exact(list(p)) for s, p in sorted(v.parts.items())}])

    sim = SimulationConfig(devices=6, interval_ms=1000, duration_s=1500, seed=11, anomalies=10,
                           malformed_share=0.0, start_ms=1_700_000_000_000)
    for _, _, line in generate(sim):
        r = parse_reading(line, now_ms=2_000_000_000_000).reading
        if r is not None:
            judge(r.device_id, r.ts_ms, r.values())
    t = 1_700_002_000_000
    hostile = [float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 5e-324, 0.0, -0.0]
    for i in range(400):
        x = hostile[i % len(hostile)] if i % 7 == 0 else (42.0 if 100 <= i < 200 else 40.0 + (i % 13) * 0.1)
        values = {"temperature": x, "pressure": 3.0 + (i % 5) * 0.01}
        if i % 3 == 0:
            values["vibration"] = 0.5 + (i % 11) * 0.02
        judge("hostile", t + i * 1000, values)
    for i in range(50):  # one sensor only, then a new one joins
        judge("come-and-go", t + i * 1000, {"s1": 1.0 + i * 0.5} if i < 25 else {"s2": float(i)})
    out.append({d: exact(m.to_state()) for d, m in sorted(devices.items())})
    print(json.dumps({"compiled": not monitor_module.__file__.endswith(".py"), "out": out}))
""")


def run_scenario(root: Path, python: str = sys.executable) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    proc = subprocess.run([python, "-c", SCENARIO], cwd=root, env={**env, "PYTHONPATH": str(root)},
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def interpreter(version: str | None) -> str:
    """This interpreter (None), or CPython ``version`` when this machine has one and the core is
    built for it (``localdev.native --python``); else the test is skipped, saying which is missing."""
    if version is None:
        if not native.built():
            pytest.skip("the core is not compiled (python -m localdev.native)")
        return sys.executable
    exe = find_python(version)
    if exe is None:
        pytest.skip(f"no CPython {version} on this machine")
    if not native.built(native.version_glob(version)):
        pytest.skip(f"the core is not compiled for Python {version} (make native-msf)")
    return exe


@pytest.mark.parametrize("version", [None, "3.12"], ids=["this-python", "msf-python-3.12"])
def test_compiled_core_decides_exactly_what_its_source_decides(tmp_path, version):
    python = interpreter(version)
    pure_root = tmp_path / "pure"
    for package in ("flink_job", "localdev"):
        shutil.copytree(REPO / package, pure_root / package,
                        ignore=shutil.ignore_patterns("*.so", "__pycache__"))
    compiled = run_scenario(REPO, python)
    pure = run_scenario(pure_root, python)
    assert compiled["compiled"] and not pure["compiled"]
    assert len(pure["out"]) > 9000
    alerts = sum(1 for row in pure["out"][:-1] for part in row[3].values() if part[5])
    assert alerts >= 10  # the scenario reaches the alert paths, not only quiet readings
    for i, (a, b) in enumerate(zip(compiled["out"], pure["out"], strict=True)):
        assert a == b, f"row {i}: compiled {a} != pure {b}"


def refusal(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "import flink_job.core.detection"], cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True)


def test_a_compiled_module_without_a_record_of_its_source_refuses_to_import(tmp_path):
    """A stale compiled module must never judge readings: a module nobody recorded a build of (here
    an empty stand-in) makes the package refuse to import, naming the file and the command."""
    root = tmp_path / "tree"
    shutil.copytree(REPO / "flink_job", root / "flink_job", ignore=shutil.ignore_patterns("__pycache__"))
    package = root / "flink_job" / "core" / "detection"
    for record in package.glob("compiled.*.json"):
        record.unlink()
    fake = package / f"zscore{compiled.extension_suffix()}"
    if not fake.exists():
        fake.write_bytes(b"")  # never loaded: the refusal comes first
    proc = refusal(root)
    assert proc.returncode != 0
    assert "zscore.py" in proc.stderr and "localdev.native" in proc.stderr


@pytest.mark.skipif(not native.built(), reason="the core is not compiled (python -m localdev.native)")
def test_a_source_changed_behind_an_old_mtime_still_refuses(tmp_path):
    """By content, not mtime: a copy keeps its modules and record and imports; the same copy with one
    source changed but given back its old mtime (cp -p, rsync, an unzipped archive) refuses."""
    root = tmp_path / "tree"
    shutil.copytree(REPO / "flink_job", root / "flink_job", ignore=shutil.ignore_patterns("__pycache__"))
    assert refusal(root).returncode == 0
    source = root / "flink_job" / "core" / "detection" / "ewma.py"
    stat = source.stat()
    source.write_text(source.read_text() + "\n# edited\n")
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    proc = refusal(root)
    assert proc.returncode != 0 and "ewma.py" in proc.stderr


@pytest.mark.skipif(not native.built(), reason="the core is not compiled (python -m localdev.native)")
def test_compiled_modules_that_cannot_load_leave_the_sources_to_run(tmp_path):
    """Modules built for another machine (here: the shared runtime replaced by bytes no loader takes)
    are no reason to fail the job: the package imports its sources and says why in ``CORE``."""
    root = tmp_path / "tree"
    shutil.copytree(REPO / "flink_job", root / "flink_job", ignore=shutil.ignore_patterns("__pycache__"))
    runtime = root / "flink_job" / "core" / f"detection__mypyc{compiled.extension_suffix()}"
    runtime.write_bytes(b"\x7fELF not for this machine")
    code = ("import flink_job.core.detection as d, flink_job.core.detection.ewma as e; "
            "from flink_job.core.detection.device import DeviceMonitor; print(d.CORE); print(e.__file__)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    core, ewma = proc.stdout.splitlines()
    assert core.startswith("pure Python (the compiled modules did not load: ImportError:"), core
    assert str(runtime) in core
    assert ewma == str(root / "flink_job" / "core" / "detection" / "ewma.py")
    assert refusal(REPO).returncode == 0  # the repository's own build is untouched and loads


@pytest.mark.parametrize("bad", ["", "3", "python3.12", "3.12.1", "12"])
def test_python_option_names_a_cpython_version(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        native.main(["--python", bad])
    assert exc.value.code == 2
    assert "--python takes a CPython version such as 3.12" in capsys.readouterr().err


def test_without_that_python_the_build_says_so_and_leaves_no_stale_modules(tmp_path, monkeypatch, capsys):
    """No CPython of that version here: old modules for it are removed (a zip must not ship them)."""
    monkeypatch.setattr(native, "find_python", lambda version: None)
    leftover = native.PACKAGE / "zscore.cpython-39-x86_64-linux-gnu.so"
    record = native.PACKAGE / "compiled.cpython-39-x86_64-linux-gnu.json"
    leftover.write_bytes(b"")
    record.write_text("{}")
    try:
        assert native.main(["--python", "3.9"]) == 0
        assert not leftover.exists() and not record.exists()
    finally:
        leftover.unlink(missing_ok=True)
        record.unlink(missing_ok=True)
    out = capsys.readouterr().out
    assert "no CPython 3.9 on this machine" in out and "removed 1 old modules" in out
