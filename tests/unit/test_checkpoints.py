"""Which checkpoint ``local.restore`` or ``--restore`` resumes from (no JVM: folders as Flink writes them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flink_job import config as c
from flink_job.core.errors import ConfigError
from flink_job.pipeline import checkpoints as cp


def _chk(root: Path, job: str, n: int, *, complete: bool = True, at: float | None = None) -> Path:
    folder = root / job / f"chk-{n}"
    folder.mkdir(parents=True)
    (folder / "state-file").write_bytes(b"x")
    if complete:
        meta = folder / "_metadata"
        meta.write_bytes(b"meta")
        if at is not None:
            os.utime(meta, (at, at))
    return folder


def _savepoint(root: Path, name: str, at: float) -> Path:
    folder = root / "savepoints" / name
    folder.mkdir(parents=True)
    (folder / "_metadata").write_bytes(b"meta")
    os.utime(folder / "_metadata", (at, at))
    return folder


def test_latest_is_the_newest_completed_checkpoint_across_jobs(tmp_path):
    _chk(tmp_path, "a" * 32, 7, at=1000)
    newest = _chk(tmp_path, "b" * 32, 2, at=2000)  # a later job: lower number, newer
    _chk(tmp_path, "b" * 32, 3, complete=False)  # killed while writing: no _metadata
    (tmp_path / ("b" * 32) / "shared").mkdir()
    (tmp_path / ("b" * 32) / "taskowned").mkdir()
    assert cp.resolve_restore("latest", tmp_path.as_uri()) == str(newest)
    assert cp.resolve_restore(" latest ", str(tmp_path)) == str(newest)


def test_latest_also_considers_savepoints_of_drained_stops(tmp_path):
    _chk(tmp_path, "a" * 32, 4, at=1000)
    sp = _savepoint(tmp_path, "savepoint-abc123-0123456789ab", at=1500)
    assert cp.resolve_restore("latest", tmp_path.as_uri()) == str(sp)
    newer = _chk(tmp_path, "c" * 32, 1, at=3000)
    assert cp.resolve_restore("latest", tmp_path.as_uri()) == str(newer)


def test_same_write_time_prefers_the_higher_checkpoint_number(tmp_path):
    _chk(tmp_path, "a" * 32, 9, at=1000)
    ten = _chk(tmp_path, "a" * 32, 10, at=1000)
    assert cp.resolve_restore("latest", str(tmp_path)) == str(ten)


@pytest.mark.parametrize("make", ["missing", "empty", "only_incomplete"])
def test_latest_without_a_completed_checkpoint_is_a_config_error_naming_local_restore(tmp_path, make):
    root = tmp_path / "ckpt"
    if make != "missing":
        root.mkdir()
    if make == "only_incomplete":
        _chk(root, "a" * 32, 1, complete=False)
    with pytest.raises(ConfigError) as err:
        cp.resolve_restore("latest", root.as_uri())
    assert (err.value.group, err.value.key) == ("local", "restore")
    assert str(root) in str(err.value)
    assert "'local'" in str(err.value) and "'restore'" in str(err.value)


def test_empty_restore_is_a_fresh_start(tmp_path):
    assert cp.resolve_restore("", str(tmp_path / "nowhere")) is None


def test_an_explicit_checkpoint_folder_metadata_file_or_url(tmp_path):
    chk = _chk(tmp_path, "a" * 32, 5)
    assert cp.resolve_restore(str(chk), "unused") == str(chk)
    assert cp.resolve_restore(chk.as_uri(), "unused") == str(chk)
    assert cp.resolve_restore(str(chk / "_metadata"), "unused") == str(chk)


def test_an_explicit_job_folder_or_checkpoint_dir_means_its_newest_checkpoint(tmp_path):
    _chk(tmp_path, "a" * 32, 5, at=1000)
    six = _chk(tmp_path, "a" * 32, 6, at=2000)
    _chk(tmp_path, "a" * 32, 7, complete=False)
    assert cp.resolve_restore(str(tmp_path / ("a" * 32)), "unused") == str(six)
    assert cp.resolve_restore(str(tmp_path), "unused") == str(six)


@pytest.mark.parametrize("what", ["missing", "incomplete", "file"])
def test_an_explicit_path_that_is_not_a_completed_snapshot_is_rejected(tmp_path, what):
    if what == "missing":
        path = tmp_path / "chk-1"
    elif what == "incomplete":
        path = _chk(tmp_path, "a" * 32, 1, complete=False)
    else:
        path = tmp_path / "notes.txt"
        path.write_text("x")
    with pytest.raises(ConfigError) as err:
        cp.resolve_restore(str(path), "unused")
    assert err.value.key == "restore" and str(path) in str(err.value)


def test_remote_paths_go_to_flink_unchecked():
    assert cp.resolve_restore("s3://bucket/ckpt/chk-3", "unused") == "s3://bucket/ckpt/chk-3"


def test_savepoint_dir_is_inside_the_checkpoint_dir():
    assert cp.savepoint_dir("file:///tmp/ck/") == "file:///tmp/ck/savepoints"


def _local_cfg(tmp_path: Path, **local: str) -> c.AppConfig:
    groups = {
        "source": {"kind": "file", "file_path": str(tmp_path / "in.jsonl")},
        "sinks": {"s3.archive_path": (tmp_path / "out").as_uri(), "timeseries.store": "none"},
        "local": {"checkpoint_dir": (tmp_path / "ckpt").as_uri(), "jars": "file:///x.jar", **local},
    }
    return c.from_groups(groups, local=True)


def test_local_options_set_the_recovery_path_retention_restarts_and_loopback_rest(tmp_path):
    from flink_job.pipeline import environment

    chk = _chk(tmp_path / "ckpt", "a" * 32, 3)
    cfg = _local_cfg(
        tmp_path, restore="latest", restart_attempts="4", restart_delay_ms="500", rest_port="18081"
    )
    opts = environment.local_options(cfg)
    assert opts["execution.state-recovery.path"] == str(chk)
    assert opts["execution.checkpointing.externalized-checkpoint-retention"] == "RETAIN_ON_CANCELLATION"
    assert opts["restart-strategy.fixed-delay.attempts"] == "4"
    assert opts["restart-strategy.fixed-delay.delay"] == "500 ms"
    assert opts["rest.bind-address"] == opts["rest.address"] == "127.0.0.1"
    assert opts["rest.bind-port"] == opts["rest.port"] == "18081"


def test_rest_port_zero_picks_one_free_port_per_process(tmp_path):
    from flink_job.pipeline import environment

    cfg = _local_cfg(tmp_path)
    first, second = environment.local_options(cfg), environment.local_options(cfg)
    assert "execution.state-recovery.path" not in first
    assert first["rest.port"] == second["rest.port"] == first["rest.bind-port"] != "0"


def test_latest_with_no_checkpoints_fails_the_local_options(tmp_path):
    from flink_job.pipeline import environment

    with pytest.raises(ConfigError, match="local.*restore"):
        environment.local_options(_local_cfg(tmp_path, restore="latest"))


def test_cli_restore_overrides_the_property_and_is_local_only(tmp_path):
    cfg = cp.with_restore(_local_cfg(tmp_path, restore=""), "latest")
    assert cfg.local.restore == "latest"
    msf = c.from_groups(
        {
            "source": {"kind": "file", "file_path": "x"},
            "sinks": {"s3.archive_path": "s3://b/", "timeseries.store": "none"},
        },
        local=False,
    )
    with pytest.raises(ConfigError, match="restore"):
        cp.with_restore(msf, "latest")
