"""Which retained checkpoint or savepoint a local run resumes from (``local.restore``).

Flink writes a checkpoint as ``<checkpoint_dir>/<job-id>/chk-<n>/_metadata`` and writes
``_metadata`` last, so a ``chk-<n>`` folder without it never completed (e.g. the process was
killed while writing it) and must not be restored. ``iot-anomaly run-job`` puts the savepoints of
its drained stops in ``<checkpoint_dir>/savepoints/``; ``latest`` considers both, newest first
(by the time ``_metadata`` was written: job ids are random, checkpoint numbers restart per job).
Pure Python, no PyFlink: MSF owns recovery there, this is for local runs only.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from flink_job.core.errors import ConfigError

if TYPE_CHECKING:
    from flink_job.config import AppConfig

GROUP = "local"
KEY = "restore"
LATEST = "latest"
METADATA = "_metadata"
SAVEPOINTS_SUBDIR = "savepoints"
_CHK = re.compile(r"^chk-(\d+)$")


@dataclass(frozen=True)
class Snapshot:
    """One completed checkpoint or savepoint on the local filesystem."""

    path: Path  # the folder holding _metadata
    kind: str  # "checkpoint" or "savepoint"
    number: int  # the checkpoint number (-1 for savepoints)
    written_ns: int  # mtime of _metadata

    @property
    def sort_key(self) -> tuple[int, int]:
        return (self.written_ns, self.number)


def default_checkpoint_dir() -> str:
    """``local.checkpoint_dir`` when unset: <system temp>/iot-anomaly-checkpoints, as a file:// URL."""
    return Path(tempfile.gettempdir(), "iot-anomaly-checkpoints").as_uri()


def savepoint_dir(checkpoint_dir: str) -> str:
    """Where ``run-job`` writes the savepoint of a drained stop (a file:// URL or path)."""
    return checkpoint_dir.rstrip("/") + "/" + SAVEPOINTS_SUBDIR


def local_path(url_or_path: str) -> Path | None:
    """A file:// URL or plain path as a Path; None for other schemes (s3://...), which we cannot list."""
    parsed = urlparse(url_or_path)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path) if parsed.scheme else url_or_path)
    return None


def _snapshot(folder: Path, kind: str, number: int) -> Snapshot | None:
    meta = folder / METADATA
    try:
        return Snapshot(folder, kind, number, meta.stat().st_mtime_ns) if meta.is_file() else None
    except OSError:  # removed while we looked (Flink subsumes old checkpoints)
        return None


def completed_snapshots(checkpoint_dir: str | Path) -> list[Snapshot]:
    """Completed checkpoints of every job under ``checkpoint_dir`` and savepoints in its
    ``savepoints/`` folder, oldest first."""
    root = checkpoint_dir if isinstance(checkpoint_dir, Path) else local_path(checkpoint_dir)
    if root is None or not root.is_dir():
        return []
    found: list[Snapshot] = []
    for job_dir in root.iterdir():
        if not job_dir.is_dir():
            continue
        if job_dir.name == SAVEPOINTS_SUBDIR:
            candidates = [(d, "savepoint", -1) for d in job_dir.iterdir() if d.name.startswith("savepoint-")]
        else:
            candidates = [
                (d, "checkpoint", int(m.group(1))) for d in job_dir.iterdir() if (m := _CHK.match(d.name))
            ]
        found.extend(s for d, kind, n in candidates if (s := _snapshot(d, kind, n)) is not None)
    return sorted(found, key=lambda s: s.sort_key)


def completed_checkpoints(checkpoint_dir: str | Path) -> list[Snapshot]:
    """Only the completed ``chk-<n>`` checkpoints under ``checkpoint_dir``, oldest first."""
    return [s for s in completed_snapshots(checkpoint_dir) if s.kind == "checkpoint"]


def _children(folder: Path) -> list[Snapshot]:
    """Snapshots directly below ``folder``: a job folder's chk-<n>, a savepoints folder's savepoints."""
    out = []
    for d in folder.iterdir():
        if m := _CHK.match(d.name):
            out.append(_snapshot(d, "checkpoint", int(m.group(1))))
        elif d.name.startswith("savepoint-"):
            out.append(_snapshot(d, "savepoint", -1))
    return [s for s in out if s is not None]


def _newest_in(folder: Path) -> Snapshot | None:
    """``folder`` itself if it holds _metadata, else the newest snapshot below it (a checkpoint
    directory, a job folder or a savepoints folder)."""
    m = _CHK.match(folder.name)
    own = _snapshot(folder, "checkpoint" if m else "savepoint", int(m.group(1)) if m else -1)
    if own is not None:
        return own
    found = completed_snapshots(folder) + _children(folder)
    return max(found, key=lambda s: s.sort_key) if found else None


def resolve_restore(restore: str, checkpoint_dir: str) -> str | None:
    """The ``execution.state-recovery.path`` for ``local.restore``; None for a fresh start.

    ``latest``: the newest completed checkpoint or savepoint under ``checkpoint_dir``. A path or
    file:// URL: that checkpoint/savepoint (its folder or its _metadata file), or the newest one
    below it. Other schemes are passed to Flink unchecked. Raises ConfigError naming local.restore.
    """
    restore = restore.strip()
    if not restore:
        return None
    if restore == LATEST:
        root = local_path(checkpoint_dir)
        if root is None:
            raise ConfigError(
                GROUP, KEY, f"'latest' needs a local checkpoint_dir (file:// URL), got {checkpoint_dir!r}"
            )
        if not root.is_dir():
            raise ConfigError(
                GROUP,
                KEY,
                f"'latest': checkpoint directory {root} does not exist (local.checkpoint_dir); "
                "nothing to resume, start without --restore",
            )
        snapshots = completed_snapshots(root)
        if not snapshots:
            raise ConfigError(
                GROUP,
                KEY,
                f"'latest': no completed checkpoint (<job-id>/chk-<n>/{METADATA}) or savepoint under "
                f"{root}; nothing to resume, start without --restore",
            )
        return str(snapshots[-1].path)
    path = local_path(restore)
    if path is None:
        return restore  # e.g. s3://...: Flink reads it itself
    if path.name == METADATA and path.is_file():
        return str(path.parent)
    if not path.exists():
        raise ConfigError(GROUP, KEY, f"no checkpoint or savepoint at {path}")
    if not path.is_dir():
        raise ConfigError(GROUP, KEY, f"{path} is neither a checkpoint/savepoint folder nor its {METADATA}")
    found = _newest_in(path)
    if found is None:
        raise ConfigError(
            GROUP, KEY, f"{path} holds no completed checkpoint or savepoint (no {METADATA} file)"
        )
    return str(found.path)


def with_restore(cfg: AppConfig, restore: str) -> AppConfig:
    """``cfg`` with ``local.restore`` overridden (``--restore``); only local runs restore from code."""
    if cfg.local is None:
        raise ConfigError(GROUP, KEY, "--restore applies to local runs only (MSF restores from snapshots)")
    return dataclasses.replace(cfg, local=dataclasses.replace(cfg.local, restore=restore))


__all__ = [
    "LATEST",
    "Snapshot",
    "completed_checkpoints",
    "completed_snapshots",
    "default_checkpoint_dir",
    "local_path",
    "resolve_restore",
    "savepoint_dir",
    "with_restore",
]
