"""``flink_job.pipeline.state_commit`` sends exactly the state writes PyFlink's own commit sends, in the
same order, and waits only after the last one.

Two real PyFlink keyed state backends (``RemoteKeyedStateBackend``, with Beam's caching handler in
front, caching off) write to a recording stand-in for the state channel, one committing as PyFlink
does and one pipelined. The same operations on both (value and map state over many keys: updates,
puts, removals, a cleared map, a key left untouched) must give byte-identical requests. If PyFlink
changes the internals the module copies, this fails, before a job would.
"""

from __future__ import annotations

import pytest

pytest.importorskip("pyflink")

from apache_beam.portability.api import beam_fn_api_pb2  # noqa: E402
from apache_beam.runners.worker.sdk_worker import GlobalCachingStateHandler, _Future  # noqa: E402
from apache_beam.runners.worker.statecache import StateCache  # noqa: E402
from pyflink.common import Types  # noqa: E402
from pyflink.fn_execution import coders  # noqa: E402
from pyflink.fn_execution.state_impl import RemoteKeyedStateBackend  # noqa: E402

from flink_job.pipeline.state_commit import pipeline_commits  # noqa: E402


class Channel:
    """The state channel's Python side: records each request and each wait for an answer."""

    def __init__(self) -> None:
        self.log: list[tuple] = []

    def _answer(self, index: int) -> _Future:
        log = self.log

        class Answer(_Future):
            def get(self, timeout: float | None = None) -> beam_fn_api_pb2.StateResponse:
                log.append(("wait", index))
                return super().get(timeout)

        return Answer().set(beam_fn_api_pb2.StateResponse())

    def append_raw(self, state_key, data: bytes):  # noqa: ANN001, ANN201
        self.log.append(("append", state_key.SerializeToString(), bytes(data)))
        return self._answer(len(self.log) - 1)

    def clear(self, state_key):  # noqa: ANN001, ANN201
        self.log.append(("clear", state_key.SerializeToString()))
        return self._answer(len(self.log) - 1)

    def get_raw(self, state_key, continuation_token=None):  # noqa: ANN001, ANN201
        return b"", None  # every state starts empty

    def requests(self) -> list[tuple]:
        return [entry for entry in self.log if entry[0] != "wait"]


def backend(channel: Channel) -> RemoteKeyedStateBackend:
    handler = GlobalCachingStateHandler(StateCache(0), channel)
    key_coder = coders.from_type_info(Types.ROW([Types.INT()]))
    return RemoteKeyedStateBackend(handler, key_coder, None, 1000, 1000, 1000)


def run(pipelined: bool) -> Channel:
    from pyflink.common import Row

    channel = Channel()
    b = backend(channel)
    if pipelined:
        assert pipeline_commits(b)
    pickled = coders.from_type_info(Types.PICKLED_BYTE_ARRAY())
    string = coders.from_type_info(Types.STRING())
    for bundle in range(3):
        for key in range(40):
            b.set_current_key(Row(key))
            schedule = b.get_value_state("schedule", pickled)
            devices = b.get_map_state("devices", string, pickled)
            if key % 7 == 3 and bundle == 1:
                continue  # untouched in this bundle
            schedule.update({"bundle": bundle, "key": key})
            devices.put(f"device-{key}", [bundle, key, 0.5 * key])
            devices.put(f"other-{key}", None if key % 5 == 0 else {"k": key})
            if key % 4 == 1:
                devices.remove(f"device-{key}")
            if key % 9 == 2 and bundle == 2:
                devices.clear()
                devices.put("after-clear", key)
            if key % 11 == 5:
                schedule.clear()
        b.commit()
    return channel


def test_pipelined_commit_sends_what_pyflink_sends_in_the_same_order():
    pyflink, ours = run(pipelined=False), run(pipelined=True)
    assert len(pyflink.requests()) > 200
    assert ours.requests() == pyflink.requests()


def round_trips(channel: Channel) -> int:
    """Runs of requests each followed by waits: one per bundle end when the writes are sent back to
    back, one per written state when each write is awaited before the next is sent."""
    runs, waiting = 0, True
    for entry in channel.log:
        if entry[0] != "wait" and waiting:
            runs += 1
        waiting = entry[0] == "wait"
    return runs


def test_pipelined_commit_waits_only_after_sending_every_write():
    assert round_trips(run(pipelined=True)) == 3  # three bundle ends
    assert round_trips(run(pipelined=False)) > 150  # PyFlink: a round trip per key and state


def test_an_unknown_backend_is_left_as_it_is():
    class Other:
        def commit(self) -> str:
            return "own"

    other = Other()
    assert not pipeline_commits(other) and other.commit() == "own"
    assert not pipeline_commits(None)
