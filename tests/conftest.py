"""Shared fixtures: the one jar (built with Gradle when missing or stale), Gradle itself, local PyFlink
environments on that jar, and the local AWS emulator (``localdev.emulator``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
JAR = REPO / "build" / "libs" / "pyflink-dependencies.jar"


def build_if_stale(
    target: Path, sources: Iterable[Path], tasks: list[str], hint: str, *, force: bool = False
) -> Path:
    """Runs the Gradle ``tasks`` when ``target`` is missing or older than one of the ``sources`` (or
    ``force``); fails the test with ``hint`` when Gradle is not installed. Returns ``target``."""
    if (
        force
        or not target.exists()
        or any(p.is_file() and p.stat().st_mtime > target.stat().st_mtime for p in sources)
    ):
        gradle = shutil.which("gradle")
        if gradle is None:
            pytest.fail(f"gradle is not installed: {hint}")
        subprocess.run([gradle, "--no-daemon", "-q", *tasks], cwd=REPO, check=True, timeout=900)
    return target


@pytest.fixture(scope="session")
def gradle_artifact() -> Callable[..., Path]:
    """:func:`build_if_stale`, for modules that build another artifact (e.g. the MSF zip)."""
    return build_if_stale


@pytest.fixture(scope="session")
def uber_jar() -> Path:
    sources = [REPO / "build.gradle", *(REPO / "connectors" / "java" / "src" / "main").rglob("*.java")]
    hint = "run 'make jars' (or 'make test', which installs it)"
    return build_if_stale(JAR, sources, ["uberJar", "localPlugins"], hint)


@pytest.fixture
def flink_env(uber_jar):
    """A factory of local PyFlink environments (a minicluster in the gateway JVM) with the uber jar.

    moto rejects CBOR, which the AWS SDK v2 uses for Kinesis by default, and the minicluster runs
    inside the PyFlink gateway JVM: so the system property ``aws.cborEnabled=false`` is set there.
    """

    def make(extra: dict[str, str] | None = None, parallelism: int = 2):
        from pyflink.common import Configuration
        from pyflink.datastream import StreamExecutionEnvironment
        from pyflink.java_gateway import get_gateway

        get_gateway().jvm.java.lang.System.setProperty("aws.cborEnabled", "false")
        config = Configuration()
        config.set_string("python.executable", sys.executable)
        config.set_string("pipeline.jars", uber_jar.as_uri())
        for key, value in (extra or {}).items():
            config.set_string(key, value)
        env = StreamExecutionEnvironment.get_execution_environment(config)
        env.set_parallelism(parallelism)
        return env

    return make


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory):
    """A bare moto server on a free loopback port (no resources), stopped by PID after the module."""
    pytest.importorskip("moto.server", reason="moto[server] not installed")
    from localdev import emulator

    endpoint, pid = emulator.start_server(log_path=tmp_path_factory.mktemp("moto") / "moto.log")
    try:
        yield endpoint
    finally:
        emulator.stop_pid(pid)


@pytest.fixture(scope="module")
def local_aws(tmp_path_factory):
    """The emulator with every resource the job uses (``localdev.emulator.up``), for one module."""
    from localdev import emulator

    state = tmp_path_factory.mktemp("local-aws")
    aws = emulator.up(state)
    try:
        yield aws
    finally:
        emulator.down(state)


@pytest.fixture
def record_simulation() -> Callable[..., object]:
    """``record(path, **SimulationConfig fields)``: a seeded recording; returns the Simulation."""
    return _record_simulation


@pytest.fixture
def run_job() -> Callable[..., subprocess.CompletedProcess]:
    """``run(groups, work_dir)``: the job run locally with these property groups (must exit 0)."""
    return _run_job


def _record_simulation(path: Path, **settings):  # noqa: ANN201 - localdev.simulator.Simulation
    """Write a seeded simulation (timestamps ending ~10 s ago) as JSON lines; returns its labels/counts."""
    import time

    from localdev.simulator import Simulation, SimulationConfig, generate

    duration = settings.pop("duration_s", 120)
    cfg = SimulationConfig(
        duration_s=duration, start_ms=int(time.time() * 1000) - (duration + 10) * 1000, **settings
    )
    sim = Simulation(cfg)
    path.write_text("".join(line + "\n" for _ts, _k, line in generate(cfg, sim)))
    return sim


def job_env() -> dict[str, str]:
    """The environment of a job run as a subprocess (``IOT_ANOMALY_LOCAL``): this process's, less
    ``PYFLINK_GATEWAY_DISABLED``, which an in-process PyFlink job's loopback Python worker leaves in
    ``os.environ`` and which would forbid the child its own gateway (test order decided the outcome)."""
    import os

    env = dict(os.environ, IOT_ANOMALY_LOCAL="true")
    env.pop("PYFLINK_GATEWAY_DISABLED", None)
    return env


def _run_job(
    groups: dict[str, dict[str, str]], work: Path, timeout_s: int = 300
) -> subprocess.CompletedProcess:
    """Run ``python -m flink_job.main`` locally with these property groups; fail on a non-zero exit."""
    import json

    props = work / "application_properties.json"
    from flink_job.core import schema

    props.write_text(json.dumps(schema.document(groups)))
    done = subprocess.run(
        [sys.executable, "-m", "flink_job.main", "--properties", str(props)],
        cwd=REPO, env=job_env(), capture_output=True, text=True,
        timeout=timeout_s,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done


# ------------------------------------------------------------------ a small archive, as the job writes it
def canonical_reading(device: str, ts: int, **values: float) -> str:
    """A raw/ line: the canonical form the job archives (parsed and validated by the core)."""
    import json

    from flink_job.core.records import parse_reading

    res = parse_reading(json.dumps({"device_id": device, "ts": ts, "seq": 1, **values}), ts + 10**9)
    assert res.ok, res.error
    return res.canonical


def anomaly_line(device: str, ts: int, alert: bool, severity: str = "critical") -> str:
    """An anomalies/ line: the event the job archives for a threshold breach."""
    import json

    from flink_job.core.outputs import Anomaly

    reason = "temperature 104.2 > 100"
    a = Anomaly(device, "temperature", ts, 104.2, 1.0, severity, "threshold", True, alert, reason)
    return json.dumps(a.event(), separators=(",", ":"))


def _write_part(root: Path, folder: str, day: str, hour: str, lines: list[str]) -> None:
    import gzip

    part = root / folder / f"dt={day}" / f"hr={hour}"
    part.mkdir(parents=True, exist_ok=True)
    with gzip.open(part / f"part-{len(list(part.iterdir()))}.jsonl.gz", "wt") as f:
        f.writelines(line + "\n" for line in lines)
    (part / ".part-x.jsonl.gz.inprogress.1").write_bytes(b"not gzip: never read")


def _write_archive(root: Path, day: str, t0: int) -> Path:
    """Two devices over two hours: readings, anomalies (3 alerts) and 4 dead letters (2 reasons)."""
    from flink_job.core.records import dead_letter, parse_reading

    _write_part(root, "raw", day, "08", [canonical_reading("m-1", t0 + i * 1000, temperature=60.0 + i)
                                         for i in range(5)] + [canonical_reading("m-2", t0, pressure=5.0,
                                                                  measurements={"spindle_rpm": 1480})])
    _write_part(root, "raw", day, "09", [canonical_reading("m-1", t0 + 3_600_000, temperature=70.0)])
    _write_part(root, "anomalies", day, "08", [anomaly_line("m-1", t0 + 2000, True),
                                               anomaly_line("m-1", t0 + 3000, False)])
    _write_part(root, "anomalies", day, "09", [anomaly_line("m-2", t0 + 3_600_000, True, "warning")])
    bad, at = parse_reading('{"device_id": "m-1"}', t0), "2026-12-02T08:00:00Z"
    _write_part(root, "dead-letters", day, "08", [dead_letter(bad, '{"device_id": "m-1"}', at)] * 3
                + [dead_letter(parse_reading("nope", t0), "nope", at)])
    return root


@pytest.fixture
def write_archive() -> Callable[[Path, str, int], Path]:
    """``write(root, day, t0)``: a small archive as the job lays it out (see ``_write_archive``)."""
    return _write_archive
