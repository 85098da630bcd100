"""SNS alert publisher: PublishBatch in tens, failed entries retried, then handed back."""

from __future__ import annotations

import time
from collections.abc import Sequence

MAX_BATCH = 10
MAX_MESSAGE_BYTES = 256 * 1024


class SnsPublisher:
    """Publishes messages ``(subject, body, attributes)`` to one topic; returns what failed."""

    def __init__(self, client, topic_arn: str, attempts: int = 3) -> None:  # noqa: ANN001
        self._client = client
        self._topic_arn = topic_arn
        self._attempts = attempts
        self.published = 0

    def publish(self, messages: Sequence[tuple[str, str, dict[str, str]]]) -> list[tuple[tuple, str]]:
        failed: list[tuple[tuple, str]] = []
        ok = []
        for msg in messages:
            if len(msg[1].encode("utf-8")) > MAX_MESSAGE_BYTES:
                failed.append((msg, "message larger than 256 KiB"))
            else:
                ok.append(msg)
        for start in range(0, len(ok), MAX_BATCH):
            failed.extend(self._publish_batch(list(ok[start : start + MAX_BATCH])))
        return failed

    def _publish_batch(self, batch: list[tuple[str, str, dict[str, str]]]) -> list[tuple[tuple, str]]:
        pending = {str(i): m for i, m in enumerate(batch)}
        reasons: dict[str, str] = {}
        for attempt in range(self._attempts):
            entries = [
                {
                    "Id": i,
                    "Subject": subject[:100],
                    "Message": body,
                    "MessageAttributes": {
                        k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()
                    },
                }
                for i, (subject, body, attrs) in pending.items()
            ]
            resp = self._client.publish_batch(TopicArn=self._topic_arn, PublishBatchRequestEntries=entries)
            self.published += len(resp.get("Successful", []))
            failed = resp.get("Failed", [])
            pending = {f["Id"]: pending[f["Id"]] for f in failed}
            reasons = {f["Id"]: f.get("Message") or f.get("Code", "failed") for f in failed}
            if not pending:
                return []
            # only server-side faults are worth another try
            if not any(f.get("SenderFault") is False for f in failed):
                break
            time.sleep(0.2 * (attempt + 1))
        return [(m, f"SNS publish failed: {reasons.get(i, 'failed')}") for i, m in pending.items()]
