"""Arrival order: a device's readings are judged in the order they arrive, never re-sorted.

Readings of one device reach the job in order through its shard, so a reading older than the newest
one its device has had is rare (a gateway's retry, a clock stepped back) and is set aside: not
judged, not learnt, listed with the reason.  Judging it would feed the detectors time going
backwards; re-sorting would make the verdicts depend on how readings were cut into micro-batches,
so a replay after a restore (cut elsewhere) could decide differently.  Equal times are in order.

The job, ``score-csv`` and the NAB run all apply this rule, so they agree on the same input.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def behind_ms(newest_ms: int | None, ts_ms: int) -> int:
    """How much older ``ts_ms`` is than the newest reading judged (``newest_ms``; None or negative:
    none yet); 0 when the reading is in order."""
    if newest_ms is None or newest_ms < 0 or ts_ms >= newest_ms:
        return 0
    return newest_ms - ts_ms


def in_order(ts_ms: Iterable[int]) -> Iterator[bool]:
    """For one device's readings in arrival order: whether each is judged (True) or set aside."""
    newest: int | None = None
    for ts in ts_ms:
        if behind_ms(newest, ts):
            yield False
        else:
            newest = ts
            yield True


def aside_reason(behind: int, newest_ms: int) -> str:
    """Why a reading was set aside (archived under late/)."""
    return (f"out of order: {behind} ms older than its device's newest reading (ts {newest_ms}); "
            "not in detection")
