"""A ledger of published alert ids, so that a replay after a restore does not alert twice.

After a crash the job resumes from its last checkpoint and detects the readings after it again;
the alerts among them carry the same deterministic ``alert_id`` (``flink_job.core.events``). The
SNS writer asks the ledger first and skips ids already published; it records an id only after
SNS accepted the message. Order matters: recording before publishing could lose an alert in a
crash between the two, so the one window left (a crash between publishing and recording) can
duplicate an alert, never lose one.

The ledger is one empty object per id under ``<archive>/alert-ledger/``, written with S3's
conditional put (``If-None-Match: *``); ``file://`` archives (local runs) use exclusive file
creation. Expire the prefix with a lifecycle rule: replays reach back one checkpoint, not weeks.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from connectors.aws import call_with_retries

LEDGER_PREFIX = "alert-ledger/"


class S3Ledger:
    """Ids as empty objects; S3 faults are retried like every sink write (``connectors.aws``)."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def seen(self, alert_id: str) -> bool:
        return call_with_retries(lambda: self._head(alert_id), f"alert ledger s3://{self._bucket}")

    def record(self, alert_id: str) -> None:
        call_with_retries(lambda: self._put(alert_id), f"alert ledger s3://{self._bucket}")

    def _head(self, alert_id: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self._bucket, Key=self._prefix + alert_id)
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def _put(self, alert_id: str) -> None:
        from botocore.exceptions import ClientError

        try:
            key = self._prefix + alert_id
            self._client.put_object(Bucket=self._bucket, Key=key, Body=b"", IfNoneMatch="*")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "412"):
                raise


class FileLedger:
    def __init__(self, folder: Path) -> None:
        self._folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def seen(self, alert_id: str) -> bool:
        return (self._folder / alert_id).exists()

    def record(self, alert_id: str) -> None:
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self._folder / alert_id, os.O_CREAT | os.O_EXCL | os.O_WRONLY))


def ledger_for(archive_path: str, make_s3_client: Callable[[], Any]) -> S3Ledger | FileLedger | None:
    """The ledger beside the archive (``s3://bucket/prefix/`` or ``file:///dir/``); None without one."""
    if not archive_path:
        return None
    url = urlparse(archive_path)
    prefix = url.path.lstrip("/")
    prefix = (prefix.rstrip("/") + "/" if prefix else "") + LEDGER_PREFIX
    if url.scheme == "s3":
        return S3Ledger(make_s3_client(), url.netloc, prefix)
    if url.scheme == "file":
        return FileLedger(Path(url.path) / LEDGER_PREFIX)
    raise ValueError(f"unsupported archive path for the alert ledger: {archive_path!r}")


Message = tuple[str, str, dict[str, str]]


def deduplicated(
    publish: Callable[[Sequence[Message]], list[tuple[Message, str]]], ledger: S3Ledger | FileLedger
) -> Callable[[Sequence[Message]], list[tuple[Message, str]]]:
    """``publish`` that skips messages whose ``alert_id`` attribute the ledger holds, and records the
    ids of the messages it published. Messages without an id pass through."""

    def write(messages: Sequence[Message]) -> list[tuple[Message, str]]:
        fresh = [m for m in messages if not (m[2].get("alert_id") and ledger.seen(m[2]["alert_id"]))]
        refused = publish(fresh)
        refused_ids = {id(m) for m, _reason in refused}
        for m in fresh:
            if id(m) not in refused_ids and m[2].get("alert_id"):
                ledger.record(m[2]["alert_id"])
        return refused

    return write
