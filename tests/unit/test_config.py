"""The typed config model: loading, validation messages (group + key), run options, local-only
settings and secrets by ARN. No JVM; Secrets Manager through moto in-process."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from flink_job import config as c
from flink_job.core.errors import ConfigError
from flink_job.pipeline import environment

STREAM = "arn:aws:kinesis:eu-central-1:123456789012:stream/readings"
RUN_OPTIONS = {"python": "main.py", "jarfile": "lib/pyflink-dependencies.jar", "pyFiles": "python_deps/"}
# What MSF 2.2 rejects when set from code (MSF owns checkpointing, jars, JVM options, restarts).
MSF_FORBIDDEN_PREFIXES = (
    "execution.checkpointing.",
    "pipeline.jars",
    "env.java.opts",
    "restart-strategy",
    "parallelism.default",
    "python.executable",
    "python.client.executable",
    "s3.",
)


def groups(**overrides: dict) -> dict[str, dict[str, str]]:
    base = {
        "source": {"stream.arn": STREAM},
        "sinks": {"timeseries.store": "none", "s3.archive_path": "s3://bucket/"},
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def write_props(path: Path, grps: dict) -> Path:
    path.write_text(json.dumps([{"PropertyGroupId": k, "PropertyMap": v} for k, v in grps.items()]))
    return path


@pytest.fixture
def app_root(tmp_path: Path) -> Path:
    """An unzipped MSF zip, as far as the config checks look."""
    root = tmp_path / "app"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "pyflink-dependencies.jar").write_bytes(b"PK")
    (root / "python_deps").mkdir()
    (root / "main.py").write_text("")
    return root


def error_of(fn, *args, **kwargs) -> ConfigError:  # noqa: ANN001
    with pytest.raises(ConfigError) as info:
        fn(*args, **kwargs)
    return info.value


# ------------------------------------------------------------------ file and groups
def test_properties_path_precedence(monkeypatch):
    monkeypatch.delenv(c.PROPERTIES_ENV, raising=False)
    assert c.properties_path() == Path("/etc/flink/application_properties.json")
    monkeypatch.setenv(c.PROPERTIES_ENV, "/tmp/from-env.json")
    assert c.properties_path() == Path("/tmp/from-env.json")
    assert c.properties_path("/tmp/explicit.json") == Path("/tmp/explicit.json")


def test_loads_msf_json_into_typed_groups(tmp_path):
    grps = groups(pipeline={"batch_window_ms": "1000", "aggregate_window_s": "30"})
    cfg = c.load_config(write_props(tmp_path / "p.json", grps), local=False)
    assert cfg.pipeline.batch_window_ms == 1000 and isinstance(cfg.pipeline.batch_window_ms, int)
    assert cfg.source.stream_arn == STREAM
    assert cfg.sinks.timeseries_store == "none"
    assert not cfg.is_local


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(None, "not found"), ("{not json", "not valid JSON"), ('{"a": 1}', "expected a JSON list")],
)
def test_unreadable_file_names_the_path(tmp_path, content, fragment):
    path = tmp_path / "p.json"
    if content is not None:
        path.write_text(content)
    err = error_of(c.load_config, path, local=False)
    assert err.group == "<file>" and err.key == str(path)
    assert fragment in str(err)


def test_unknown_group_is_named():
    err = error_of(c.from_groups, groups(sourse={"kind": "file"}), local=False)
    assert (err.group, err.key) == ("sourse", "PropertyGroupId")
    assert "unknown group" in str(err) and "source" in str(err)


def test_unknown_key_is_named_with_the_nearest_known_key():
    err = error_of(c.from_groups, groups(source={"stream.arn": STREAM, "stream.ARN": "x"}), local=False)
    assert (err.group, err.key) == ("source", "stream.ARN")
    assert "did you mean 'stream.arn'?" in str(err) and "known: " in str(err)
    assert str(err).startswith("property group 'source', key 'stream.ARN':")
    err = error_of(c.from_groups, groups(detection={"zscore_windw": "10"}), local=False)
    assert "did you mean 'zscore_window'?" in str(err)
    err = error_of(c.from_groups, groups(pipeline={"colour": "blue"}), local=False)
    assert "did you mean" not in str(err)  # nothing near: no guess


@pytest.mark.parametrize(("group", "second", "first"), [
    ("source", "stream_arn", "stream.arn"),
    ("source", "init_position", "source.init.position"),
    ("sinks", "timeseries_store", "timeseries.store"),
    ("kinesis.analytics.flink.run.options", "py_files", "pyFiles"),
])
def test_every_key_has_one_spelling(group, second, first):
    """The other spelling (the field name, or dots for underscores) is refused, pointing at the one."""
    err = error_of(c.from_groups, groups(**{group: {second: "x"}}), local=False)
    assert (err.group, err.key) == (group, second)
    assert f"did you mean '{first}'?" in str(err)


@pytest.mark.parametrize(
    ("group", "props", "key", "fragment"),
    [
        ("pipeline", {"batch_window_ms": "two seconds"}, "batch_window_ms", "expected int"),
        ("pipeline", {"batch_window_ms": "0"}, "batch_window_ms", "> 0"),
        ("pipeline", {"python_bundle_time_ms": "0"}, "python_bundle_time_ms", "> 0"),
        ("pipeline", {"detection_bundle_gap_ms": "-5"}, "detection_bundle_gap_ms", ">= 0"),
        ("pipeline", {"detection_bundle_linger_ms": "-2"}, "detection_bundle_linger_ms", "-1 for PyFlink"),
        ("source", {"stream.arn": STREAM, "max_records_per_get": "1e3"}, "max_records_per_get", "int"),
        ("source", {"stream.arn": STREAM, "min_get_records_interval_ms": "-1"}, "min_get_records_interval_ms",
         ">= 0"),
        ("sinks", {"timeseries.store": "influx"}, "timeseries.store", "not one of"),
        ("sinks", {"timeseries.store": "none", "s3.archive_path": "bucket/x"}, "s3.archive_path", "s3://"),
    ],
)
def test_bad_values_name_group_and_key(group, props, key, fragment):
    err = error_of(c.from_groups, groups(**{group: props}), local=False)
    assert (err.group, err.key) == (group, key)
    assert fragment in str(err)


def test_missing_required_values_name_group_and_key():
    err = error_of(c.from_groups, groups(source={"kind": "kinesis"}), local=False)
    assert (err.group, err.key) == ("source", "stream.arn")
    err = error_of(c.from_groups, groups(sinks={"timeseries.store": "timestream"}), local=False)
    assert (err.group, err.key) == ("sinks", "timestream.database")


def test_missing_source_group_is_reported_on_its_required_key():
    err = error_of(c.from_groups, groups(source=None), local=False)
    assert (err.group, err.key) == ("source", "stream.arn")


# ------------------------------------------------------------------ run options
def test_run_options_group_is_understood():
    run_options = {**RUN_OPTIONS, "pyArchives": "venv.zip#venv"}
    cfg = c.from_groups(groups(**{c.RUN_OPTIONS_GROUP: run_options}), local=False)
    run = cfg.run_options
    assert (run.python, run.jarfile, run.py_files, run.py_archives) == (
        "main.py",
        "lib/pyflink-dependencies.jar",
        "python_deps/",
        "venv.zip#venv",
    )


@pytest.mark.parametrize(
    ("props", "key", "fragment"),
    [
        ({**RUN_OPTIONS, "pyfiles": "python_deps/"}, "pyfiles", "unknown key"),
        ({**RUN_OPTIONS, "jarfile": "lib/"}, "jarfile", "ending in .jar"),
        ({**RUN_OPTIONS, "python": "main"}, "python", "ending in .py"),
        ({**RUN_OPTIONS, "jarfile": "/opt/x.jar"}, "jarfile", "inside the zip"),
        ({**RUN_OPTIONS, "pyFiles": "python_deps/,../elsewhere"}, "pyFiles", "inside the zip"),
    ],
)
def test_bad_run_options_name_group_and_key(props, key, fragment):
    err = error_of(c.from_groups, groups(**{c.RUN_OPTIONS_GROUP: props}), local=False)
    assert (err.group, err.key) == (c.RUN_OPTIONS_GROUP, key)
    assert fragment in str(err)


def test_local_run_of_the_zip_uses_run_options_jar_and_pyfiles(app_root):
    cfg = c.from_groups(groups(**{c.RUN_OPTIONS_GROUP: RUN_OPTIONS}, local={}), local=True, app_root=app_root)
    assert cfg.runs_from_zip
    assert cfg.pipeline_jars() == (app_root / "lib" / "pyflink-dependencies.jar").as_uri()
    assert cfg.local_python_path() == [app_root / "python_deps/"]
    assert environment.local_options(cfg)["pipeline.jars"] == cfg.pipeline_jars()


def test_local_jars_win_over_run_options(app_root):
    grps = groups(**{c.RUN_OPTIONS_GROUP: RUN_OPTIONS}, local={"jars": "file:///dev/x.jar"})
    cfg = c.from_groups(grps, local=True, app_root=app_root / "elsewhere")  # run options not checked
    assert not cfg.runs_from_zip
    assert cfg.pipeline_jars() == "file:///dev/x.jar"
    assert cfg.local_python_path() == []


def test_local_run_without_any_jar_is_an_error(app_root):
    err = error_of(c.from_groups, groups(local={}), local=True, app_root=app_root)
    assert (err.group, err.key) == (c.RUN_OPTIONS_GROUP, "jarfile")
    assert "local.jars" in str(err)


@pytest.mark.parametrize("missing", ["lib/pyflink-dependencies.jar", "python_deps", "main.py"])
def test_local_run_of_the_zip_checks_the_files_exist(app_root, missing):
    target = app_root / missing
    if target.is_dir():
        target.rmdir()
    else:
        target.unlink()
    err = error_of(
        c.from_groups, groups(**{c.RUN_OPTIONS_GROUP: RUN_OPTIONS}, local={}), local=True, app_root=app_root
    )
    assert err.group == c.RUN_OPTIONS_GROUP
    keys = {"lib/pyflink-dependencies.jar": "jarfile", "python_deps": "pyFiles", "main.py": "python"}
    assert err.key == keys[missing]
    assert "not found" in str(err)


def test_run_options_files_are_not_checked_off_local(tmp_path):
    cfg = c.from_groups(groups(**{c.RUN_OPTIONS_GROUP: RUN_OPTIONS}), local=False, app_root=tmp_path)
    assert cfg.pipeline_jars() == "" and cfg.local_python_path() == []


def test_py_archives_become_python_archives_locally(app_root):
    (app_root / "venv.zip").write_bytes(b"PK")
    run = {**RUN_OPTIONS, "pyArchives": "venv.zip#venv"}
    cfg = c.from_groups(groups(**{c.RUN_OPTIONS_GROUP: run}, local={}), local=True, app_root=app_root)
    assert environment.local_options(cfg)["python.archives"] == f"{app_root / 'venv.zip'}#venv"


def test_add_python_path_prepends_to_sys_path_and_pythonpath(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", "/already/there")
    environment.add_python_path([tmp_path / "a", tmp_path / "b"])
    assert sys.path[:2] == [str(tmp_path / "a"), str(tmp_path / "b")]
    expected = [str(tmp_path / "a"), str(tmp_path / "b"), "/already/there"]
    assert os.environ["PYTHONPATH"].split(os.pathsep) == expected


# ------------------------------------------------------------------ local-only settings
def test_local_only_settings_are_not_applied_off_local(capsys):
    grps = groups(local={"checkpoint_interval_ms": "1000", "jars": "file:///x.jar", "aws_endpoint": "http://127.0.0.1:1"})
    cfg = c.from_groups(grps, local=False)
    assert cfg.local is None
    assert "ignored outside local runs" in capsys.readouterr().out
    options = environment.flink_options(cfg)
    assert options, "the MSF-allowed Python options are still set"
    bad = [k for k in options if k.startswith(MSF_FORBIDDEN_PREFIXES)]
    assert bad == []


def test_local_settings_are_applied_locally():
    grps = groups(local={"checkpoint_interval_ms": "1000", "jars": "file:///x.jar"})
    options = environment.flink_options(c.from_groups(grps, local=True))
    assert options["execution.checkpointing.interval"] == "1000 ms"
    assert options["pipeline.jars"] == "file:///x.jar"
    assert options["python.executable"] == sys.executable
    assert options["restart-strategy.type"] == "fixed-delay"


def test_prepare_process_env_leaves_msf_runs_alone(monkeypatch):
    monkeypatch.delenv("JVM_ARGS", raising=False)
    monkeypatch.delenv("CBOR_ENABLED", raising=False)
    environment.prepare_process_env(c.from_groups(groups(), local=False))
    assert "JVM_ARGS" not in os.environ and "CBOR_ENABLED" not in os.environ


def test_local_switch_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(c.LOCAL_ENV, "true")
    assert c.from_groups(groups(local={"jars": "file:///x.jar"})).is_local
    monkeypatch.setenv(c.LOCAL_ENV, "")
    assert not c.from_groups(groups()).is_local


def test_local_endpoint_must_be_loopback():
    grps = groups(local={"jars": "file:///x", "aws_endpoint": "http://10.0.0.1:4566"})
    err = error_of(c.from_groups, grps, local=True)
    assert (err.group, err.key) == ("local", "aws_endpoint")


# ------------------------------------------------------------------ secrets
def test_the_removed_secrets_group_is_refused_saying_why():
    err = error_of(c.from_groups, groups(secrets={"api_credentials_secret_arn": "arn:x"}), local=False)
    assert (err.group, err.key) == ("secrets", "PropertyGroupId")
    assert "influxdb.auth_secret_arn" in str(err)


@pytest.fixture
def secretsmanager(monkeypatch):
    moto = pytest.importorskip("moto")
    for var, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with moto.mock_aws():
        import boto3

        yield boto3.client("secretsmanager", region_name="eu-central-1")


def test_secret_is_read_by_arn_and_hidden_from_repr(secretsmanager):
    from flink_job.secrets import read_secret

    value = '{"token": "hunter2", "organization": "o", "bucket": "b"}'
    arn = secretsmanager.create_secret(Name="influx-token", SecretString=value)["ARN"]
    secret = read_secret(arn, group="sinks", key="influxdb.auth_secret_arn")
    assert secret.value["token"] == "hunter2"
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret)


def test_unreadable_secret_fails_naming_the_key(secretsmanager):
    from flink_job.secrets import read_secret

    arn = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:missing-AbCdEf"
    err = error_of(read_secret, arn, group="sinks", key="influxdb.auth_secret_arn")
    assert (err.group, err.key) == ("sinks", "influxdb.auth_secret_arn")
    assert "ResourceNotFoundException" in str(err) and arn in str(err)


# ------------------------------------------------------------------ entry point
def test_main_prints_group_and_key_and_exits_2(tmp_path, capsys, monkeypatch):
    from flink_job.main import main

    monkeypatch.delenv(c.LOCAL_ENV, raising=False)
    props = write_props(tmp_path / "p.json", groups(source={"kind": "kinesis"}))
    assert main(["--properties", str(props)]) == 2
    out = capsys.readouterr()
    expected = "iot-anomaly: configuration error: property group 'source', key 'stream.arn'"
    assert expected in out.out and expected in out.err


def test_baseline_group_reaches_the_job_config():
    cfg = c.from_groups(groups(baseline={"relearn.machine-0042": "2026-12-01T14:00:00Z",
                                         "class.press-*.ms": "86400000"}), local=False)
    assert cfg.baseline.relearn_at("machine-0042") == 1_796_133_600_000
    assert cfg.baseline.for_device("press-7", cfg.detection).baseline_ms == 86_400_000
    err = error_of(c.from_groups, groups(baseline={"relearn.m-1": "soon"}), local=False)
    assert (err.group, err.key) == ("baseline", "relearn.m-1")


@pytest.mark.parametrize("key", ["spindle-rpm.critical_high", "device.m-1.device.warning_high",
                                 "9axis.warning_low"])
def test_a_threshold_for_a_name_no_reading_can_report_is_refused_naming_the_key(key):
    err = error_of(c.from_groups, groups(thresholds={key: "5"}), local=False)
    assert (err.group, err.key) == ("thresholds", key)
    assert "no reading can report a sensor named" in str(err)


def test_a_threshold_for_a_named_measurement_reaches_the_job_config():
    cfg = c.from_groups(groups(thresholds={"spindle_rpm.critical_high": "3000"}), local=False)
    assert cfg.thresholds.for_series("m-1", "spindle_rpm").critical_high == 3000.0
    assert cfg.thresholds.urgent_bounds("spindle_rpm") == (float("-inf"), 3000.0)
