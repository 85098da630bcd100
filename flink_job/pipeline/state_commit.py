"""One round trip per bundle end for detection's keyed state, not two per bucket touched.

At a bundle end PyFlink writes every key's changed state back to the JVM, and waits for each write
before sending the next (``RemoteKeyedStateBackend.commit``: a map state's and a value state's
``commit`` each end in ``future.get()``). Detection touches every bucket of its subtask in a bundle
(a map of devices and a schedule each), so a bundle end was some 2 x 128 sequential round trips
through the state channel while the JVM's detect operator waited for the bundle to finish.

``pipeline_commits`` replaces that method on one operator's backend with one that sends the same
requests in the same order and then waits for all of them. The state channel answers requests in
the order they were sent (PyFlink's own map commit relies on it: it awaits only the last of its
clear and write), and the bundle still ends only once every write is acknowledged, so a checkpoint
sees exactly what it saw before. It relies on PyFlink 2.2's internals (the backend's state caches
and the two runtime state classes): ``tests/unit/test_state_commit.py`` runs both commits on real
PyFlink backends and fails on an upgrade that changes what they send; a state kind this module does
not know is committed as PyFlink does.
"""

from __future__ import annotations

import types
from typing import Any

from apache_beam.runners.worker.bundle_processor import SynchronousBagRuntimeState
from pyflink.fn_execution.state_impl import InternalSynchronousMapRuntimeState, RemoteKeyedStateBackend


def _send_map(state: InternalSynchronousMapRuntimeState) -> Any:
    """``InternalSynchronousMapRuntimeState.commit`` up to its wait; returns the request to await."""
    pending = None
    if state._cleared:
        pending = state._map_state_handler.clear(state._state_key)
    if state._write_cache:
        items = []
        for map_key, (exists, value) in state._write_cache.items():
            if not exists:
                items.append((state._map_state_handler.DELETE, map_key, None))
            elif value is None:
                items.append((state._map_state_handler.SET_NONE, map_key, None))
            else:
                items.append((state._map_state_handler.SET_VALUE, map_key, value))
        state._write_cache.clear()
        pending = state._map_state_handler.extend(
            state._state_key, items, state._map_key_encoder, state._map_value_encoder)
    state._cleared = False
    state._mod_count += 1
    return pending


def _send_bag(state: SynchronousBagRuntimeState) -> Any:
    """Beam's ``SynchronousBagRuntimeState.commit`` up to its wait, then PyFlink's reset of the
    object it reuses across bundles (``RemoteKeyedStateBackend.commit_internal_state``)."""
    pending = None
    if state._cleared:
        pending = state._state_handler.clear(state._state_key)
    if state._added_elements:  # encoded into the request here: the list may be replaced after
        pending = state._state_handler.extend(
            state._state_key, state._value_coder.get_impl(), state._added_elements)
    state._cleared = False
    state._added_elements = []
    return pending


def _send(internal: Any, pending: list) -> None:
    if internal is None:
        return
    if type(internal) is InternalSynchronousMapRuntimeState:
        request = _send_map(internal)
    elif type(internal) is SynchronousBagRuntimeState:
        request = _send_bag(internal)
    else:  # a kind this module does not know: as PyFlink commits it (waits itself)
        RemoteKeyedStateBackend.commit_internal_state(internal)
        return
    if request is not None:
        pending.append(request)


def _commit(self: RemoteKeyedStateBackend) -> None:
    """``RemoteKeyedStateBackend.commit``, its writes sent back to back and awaited together."""
    pending: list = []
    for internal in self._internal_state_cache:
        _send(internal, pending)
    for name, state in self._all_states.items():
        if (name, self._encoded_current_key, self._encode_namespace(state.namespace)) \
                not in self._internal_state_cache:
            _send(state._internal_state, pending)
    for request in pending:
        request.get()  # as PyFlink's own commit waits (its handling of an answer unchanged)


def pipeline_commits(backend: Any) -> bool:
    """Make ``backend`` (an operator's keyed state backend) send its bundle-end writes back to back.
    Returns False, changing nothing, when it is not the backend this was written for."""
    if type(backend) is not RemoteKeyedStateBackend:
        return False
    backend.commit = types.MethodType(_commit, backend)
    return True
