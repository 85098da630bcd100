"""The built MSF zip, run as MSF runs it: unzipped, ``python main.py``, nothing but its content.

The zip (``gradle msfZip``, i.e. ``make package``) is built when missing or older than its sources,
unzipped into a temporary folder and started with the runtime properties MSF would give it (the
run-options group included, no ``local.jars``) against the local emulator: a clean PYTHONPATH of
the unzipped folder and its ``python_deps`` (the venv's interpreter provides PyFlink, as MSF's
does), the jar from the run options, the API secret read from moto's Secrets Manager by ARN. The
source is a bounded recording of the simulator, so the job ends by itself; the assertions read
what reached the emulator's S3, Timestream and SNS.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from flink_job.core import schema
from localdev import emulator, native
from localdev.interpreters import find_python
from localdev.simulator import Simulation, SimulationConfig, generate

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ZIP = REPO / "build" / "dist" / "iot-anomaly-flink.zip"
PLUGINS = REPO / "build" / "flink-plugins"
RUN_OPTIONS_GROUP = "kinesis.analytics.flink.run.options"
RUN_OPTIONS = {"python": "main.py", "jarfile": "lib/pyflink-dependencies.jar", "pyFiles": "python_deps/"}
RUN_TIMEOUT_S = 150
# MSF's Python, as build.gradle names it for the zip (its dependencies and its compiled core)
MSF_PYTHON = re.search(r"msfPythonVersion = '([0-9.]+)'", (REPO / "build.gradle").read_text()).group(1)


@pytest.fixture(scope="module")
def msf_zip(gradle_artifact) -> Path:
    sources = [REPO / "build.gradle", REPO / "pyproject.toml"]
    for folder, pattern in (("flink_job", "*.py"), ("connectors", "*.py"), ("connectors/java/src/main", "*")):
        sources += (REPO / folder).rglob(pattern)
    hint = "run 'make package' (it installs what it needs)"
    return gradle_artifact(ZIP, sources, ["msfZip", "localPlugins"], hint, force=not PLUGINS.is_dir())


@pytest.fixture(scope="module")
def app(msf_zip, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("msf") / "app"
    with zipfile.ZipFile(msf_zip) as z:
        z.extractall(root)
    return root


def zip_env(app_dir: Path, properties: Path) -> dict[str, str]:
    """The process environment of a local MSF-like run: only the zip's content on the Python path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(app_dir), str(app_dir / "python_deps")]),
        PYTHONNOUSERSITE="1",
        IOT_ANOMALY_LOCAL="true",
        IOT_APP_PROPERTIES=str(properties),
    )
    return env


def run_entry(app_dir: Path, properties: Path, timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "main.py"],
        cwd=app_dir,
        env=zip_env(app_dir, properties),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_properties(path: Path, groups: dict[str, dict[str, str]]) -> Path:
    doc = schema.document(groups)
    path.write_text(json.dumps(doc, indent=2))
    return path


def archive_lines(aws: emulator.LocalAws, prefix: str) -> list[str]:
    s3 = aws.client("s3")
    lines: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=aws.archive_bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            if obj["Key"].endswith(".jsonl.gz"):
                body = s3.get_object(Bucket=aws.archive_bucket, Key=obj["Key"])["Body"].read()
                lines.extend(gzip.decompress(body).decode("utf-8").splitlines())
    return lines


# ------------------------------------------------------------------ the zip itself
def test_zip_layout_matches_the_run_options(msf_zip):
    with zipfile.ZipFile(msf_zip) as z:
        names = z.namelist()
    files = [n for n in names if not n.endswith("/")]
    assert "main.py" in files
    assert [n for n in files if n.startswith("lib/")] == ["lib/pyflink-dependencies.jar"]
    for pkg in ("flink_job/main.py", "flink_job/secrets.py", "connectors/__init__.py", "connectors/aws.py"):
        assert pkg in files
    ours = [n for n in files if n.startswith(("flink_job/", "connectors/"))]
    assert {n for n in ours if not n.endswith(".py")} == expected_compiled_core()
    assert not [n for n in names if "__pycache__" in n or n.endswith((".java", ".pyc"))]
    assert not [n for n in ours if "/test_" in n or "/tests/" in n]
    top_deps = {n.split("/")[1] for n in files if n.startswith("python_deps/")}
    for dep in ("boto3", "botocore", "s3transfer", "jmespath"):
        assert dep in top_deps
    for provided in ("pyflink", "numpy", "pandas", "pyarrow"):  # MSF's runtime has these
        assert provided not in top_deps
    boto3_pin = next(p for p in _pyproject_deps() if p.startswith("boto3=="))
    assert f"boto3-{boto3_pin.split('==')[1]}.dist-info" in top_deps
    # the CDK app's run options point at exactly these paths
    flink_app = (REPO / "infra" / "iot_anomaly_infra" / "flink_app.py").read_text()
    for value in RUN_OPTIONS.values():
        assert f'"{value}"' in flink_app


def msf_python() -> tuple[str, str] | None:
    """(interpreter, extension suffix) of MSF's CPython on this machine, or None."""
    exe = find_python(MSF_PYTHON)
    if exe is None:
        return None
    code = "import importlib.machinery as m; print(m.EXTENSION_SUFFIXES[0])"
    return exe, subprocess.run([exe, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def expected_compiled_core() -> set[str]:
    """What the zip holds besides sources: the core compiled for MSF's Python (each compiled module,
    mypyc's shared runtime, the record of the sources) when this machine has that Python, else none."""
    found = msf_python()
    if found is None:
        return set()
    suffix = found[1]
    folder = "flink_job/core/detection"
    record = f"{folder}/compiled{suffix.rsplit('.', 1)[0]}.json"
    return {f"{folder}/{p.stem}{suffix}" for p in native.sources()} | {
        f"flink_job/core/detection__mypyc{suffix}", record}


def test_the_zips_compiled_core_loads_under_msf_python_and_was_built_from_the_zips_sources(app):
    found = msf_python()
    if found is None:
        pytest.skip(f"no CPython {MSF_PYTHON} on this machine: the zip ships the core as pure Python")
    code = ("import json; from flink_job.core import compiled; import flink_job.core.detection as d; "
            "print(json.dumps([d.CORE, compiled.stale_modules(), "
            "json.loads(compiled.record_path().read_text()), "
            "{p.name: compiled.digest(p) for p in compiled.PACKAGE.glob('*.py')}]))")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    proc = subprocess.run([found[0], "-c", code], cwd=app, env={**env, "PYTHONPATH": str(app)},
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    core, stale, record, digests = json.loads(proc.stdout)
    assert core == "compiled (mypyc)" and stale == []
    assert record == {name: digest for name, digest in digests.items() if name not in native.NOT_COMPILED}


def job_modules() -> set[str]:
    """Our files the job can import, from its entry points through every import statement (those inside
    functions too), as zip paths."""
    import ast

    def file_of(module: str) -> Path | None:
        p = REPO.joinpath(*module.split("."))
        return p / "__init__.py" if (p / "__init__.py").exists() else (
            p.with_suffix(".py") if p.with_suffix(".py").exists() else None)

    def imported(path: Path) -> set[str]:
        parts = path.relative_to(REPO).with_suffix("").parts
        package = parts if path.name == "__init__.py" else parts[:-1]
        out = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join([*package[: len(package) - node.level + 1], *filter(None, [node.module])])
                out |= {base} | {f"{base}.{a.name}" for a in node.names}
        return {m for m in out if m.split(".")[0] in ("flink_job", "connectors")}

    seen: set[Path] = set()
    todo = ["flink_job.main", "flink_job.msf_main"]
    while todo:
        parts = todo.pop().split(".")
        for i in range(1, len(parts) + 1):
            f = file_of(".".join(parts[:i]))
            if f is not None and f not in seen:
                seen.add(f)
                todo += imported(f)
    return {str(p.relative_to(REPO)) for p in seen} - {"flink_job/msf_main.py"}


def test_the_zip_holds_what_the_job_imports_and_nothing_else(msf_zip):
    with zipfile.ZipFile(msf_zip) as z:
        ours = {n for n in z.namelist() if n.startswith(("flink_job/", "connectors/")) and n.endswith(".py")}
    assert ours == job_modules(), (sorted(ours - job_modules()), sorted(job_modules() - ours))
    assert not [n for n in ours if n.startswith("flink_job/evaluation/")]


def _pyproject_deps() -> list[str]:
    import tomllib

    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]


def test_only_the_zip_content_is_imported(app, tmp_path):
    code = "import boto3, botocore, flink_job, connectors; print(boto3.__file__, flink_job.__file__)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=app,
        env=zip_env(app, tmp_path / "unused.json"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0].startswith(str(app / "python_deps" / "boto3"))
    assert out[1].startswith(str(app / "flink_job"))


# ------------------------------------------------------------------ misconfigured runs
def test_missing_run_options_fails_naming_group_and_key(app, tmp_path):
    props = write_properties(
        tmp_path / "props.json",
        {
            "source": {"kind": "file", "file_path": "/nonexistent"},
            "sinks": {"timeseries.store": "none"},
            "local": {},
        },
    )
    res = run_entry(app, props, timeout=60)
    assert res.returncode == 2, res.stdout + res.stderr
    msg = f"iot-anomaly: configuration error: property group '{RUN_OPTIONS_GROUP}', key 'jarfile'"
    assert msg in res.stdout and msg in res.stderr


# ------------------------------------------------------------------ end to end
def test_unreadable_secret_fails_naming_the_key(app, local_aws, tmp_path):
    aws = local_aws
    arn = f"arn:aws:secretsmanager:{aws.region}:123456789012:secret:does-not-exist-AbCdEf"
    props = write_properties(
        tmp_path / "props.json",
        {
            RUN_OPTIONS_GROUP: RUN_OPTIONS,
            "source": {"kind": "file", "file_path": str(tmp_path)},
            "sinks": {
                "timeseries.store": "influxdb",
                "influxdb.endpoint": "http://127.0.0.1:9",
                "influxdb.organization": "iot-anomaly",
                "influxdb.bucket": "readings",
                "influxdb.auth_secret_arn": arn,
            },
            "local": {"aws_endpoint": aws.endpoint},
        },
    )
    res = run_entry(app, props, timeout=60)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "property group 'sinks', key 'influxdb.auth_secret_arn': cannot read secret" in res.stderr
    assert "ResourceNotFoundException" in res.stderr



def test_zip_runs_as_on_msf_and_events_flow_end_to_end(app, local_aws, tmp_path):
    aws = local_aws
    sim_cfg = SimulationConfig(
        devices=10,
        interval_ms=1000,
        duration_s=40,
        start_ms=int(time.time() * 1000) - 120_000,
        seed=3,
        anomalies=3,
        malformed_share=0.02,
    )
    sim = Simulation(sim_cfg)
    recording = tmp_path / "recording.jsonl"
    with recording.open("w") as f:
        for _ts, _key, line in generate(sim_cfg, sim):
            f.write(line + "\n")
    malformed = sum(sim.malformed.values())
    assert malformed > 0

    props = write_properties(
        tmp_path / "application_properties.json",
        {
            RUN_OPTIONS_GROUP: RUN_OPTIONS,
            "source": {"kind": "file", "file_path": str(recording), "aws.region": aws.region},
            "sinks": aws.sinks_group(),
            "pipeline": {"aggregate_window_s": "10"},
            # no "jars": the jar comes from the run options, as on MSF
            "local": {
                "aws_endpoint": aws.endpoint,
                "plugins_dir": str(PLUGINS),
                "checkpoint_interval_ms": "1000",
            },
        },
    )
    started = time.monotonic()
    res = run_entry(app, props)
    elapsed = time.monotonic() - started
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout[-3000:]}\n{res.stderr[-5000:]}"
    start_line = next(x for x in res.stdout.splitlines() if x.startswith("iot-anomaly: starting"))
    assert f"pipeline.jars={(app / 'lib' / 'pyflink-dependencies.jar').as_uri()}" in start_line
    assert "store=timestream" in start_line
    # this interpreter is the venv's, for which the zip holds no compiled core: the sources run
    assert start_line.endswith("detection=pure Python"), start_line

    raw = archive_lines(aws, "raw/")
    dead = archive_lines(aws, "dead-letters/")
    assert len(raw) == sim.valid
    assert len(dead) == malformed
    assert sorted(raw + [json.loads(d)["record"] for d in dead]) == sorted(recording.read_text().splitlines())
    assert archive_lines(aws, "anomalies/"), "no anomaly archived"

    state = emulator.backend_state(aws, "timestreamwrite").get("timestreamwrite", {})
    records = {t["name"]: len(t.get("records", [])) for t in state.get("TimestreamTable", [])}
    assert records.get(aws.readings_table, 0) > 0, records
    print(f"zip run: {elapsed:.1f} s, {len(raw)} archived, {len(dead)} dead letters, timestream {records}")
