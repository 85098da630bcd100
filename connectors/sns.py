"""SNS alert publisher: PublishBatch in tens; transient failures retried, then raised (see connectors.aws).

Refused for good (handed back for the dead letters): messages over 256 KiB and entries SNS fails
with SenderFault=true (the message itself is wrong). Retried with backoff: throttling, 5xx,
connection errors and entries failed with SenderFault=false; when the batch's budget is spent
``publish`` raises, so the job restarts from its checkpoint and publishes the batch again.

Delivery is at least once: a batch that reached SNS but whose answer was lost is sent again. On a
FIFO topic (ARN ending in ``.fifo``) each message carries MessageGroupId = its device and
MessageDeduplicationId = its ``alert_id`` attribute (else a hash of the body), so SNS drops
those repeats within its 5-minute deduplication window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from connectors.aws import RetryPolicy, TransientError, default_policy, is_transient

MAX_BATCH = 10
MAX_MESSAGE_BYTES = 256 * 1024
MAX_BATCH_BYTES = 256 * 1024  # PublishBatch's limit on the sum of the payloads

Message = tuple[str, str, dict[str, str]]


def _size(msg: Message) -> int:
    subject, body, attrs = msg
    return len(body.encode("utf-8")) + sum(len(k) + len(v) for k, v in attrs.items()) + len(subject)


class SnsPublisher:
    """Publishes messages ``(subject, body, attributes)`` to one topic; returns the refused ones."""

    def __init__(self, client, topic_arn: str, policy: RetryPolicy | None = None) -> None:  # noqa: ANN001
        self._client = client
        self._topic_arn = topic_arn
        self._fifo = topic_arn.endswith(".fifo")
        self._policy = policy or default_policy()
        self.published = 0

    def publish(self, messages: Sequence[Message]) -> list[tuple[Message, str]]:
        failed: list[tuple[Message, str]] = []
        batch: list[Message] = []
        batch_bytes = 0
        for msg in messages:
            size = _size(msg)
            if len(msg[1].encode("utf-8")) > MAX_MESSAGE_BYTES or size > MAX_BATCH_BYTES:
                failed.append((msg, "message larger than 256 KiB"))
                continue
            if len(batch) == MAX_BATCH or batch_bytes + size > MAX_BATCH_BYTES:
                failed.extend(self._publish_batch(batch))
                batch, batch_bytes = [], 0
            batch.append(msg)
            batch_bytes += size
        if batch:
            failed.extend(self._publish_batch(batch))
        return failed

    def _entry(self, entry_id: str, msg: Message) -> dict:
        subject, body, attrs = msg
        entry = {
            "Id": entry_id,
            "Subject": subject[:100],
            "Message": body,
            "MessageAttributes": {k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()},
        }
        if self._fifo:
            entry["MessageGroupId"] = attrs.get("device_id") or "alerts"
            entry["MessageDeduplicationId"] = (
                attrs.get("alert_id") or hashlib.sha256(body.encode("utf-8")).hexdigest()
            )[:128]
        return entry

    def _publish_batch(self, batch: list[Message]) -> list[tuple[Message, str]]:
        pending = {str(i): m for i, m in enumerate(batch)}
        refused: list[tuple[Message, str]] = []
        backoff = self._policy.start(f"SNS PublishBatch to {self._topic_arn}")
        while True:
            try:
                entries = [self._entry(i, m) for i, m in pending.items()]
                resp = self._client.publish_batch(
                    TopicArn=self._topic_arn, PublishBatchRequestEntries=entries
                )
                self.published += len(resp.get("Successful", []))
                retry = {}
                for f in resp.get("Failed", []):
                    reason = f.get("Message") or f.get("Code", "failed")
                    if f.get("SenderFault", True):  # the message is at fault: no retry will help
                        refused.append((pending[f["Id"]], f"SNS refused the message: {reason}"))
                    else:
                        retry[f["Id"]] = pending[f["Id"]]
                pending = retry
                if not pending:
                    return refused
                raise TransientError(f"{len(pending)} entries failed on the server side ({reason})")
            except Exception as exc:
                if not is_transient(exc):
                    raise
                backoff.wait(exc)
