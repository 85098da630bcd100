"""Helpers shared by the integration tests that read an unbounded job's output in the driver."""

from __future__ import annotations


def collect_until(results, expected: int, timeout_s: float, linger_s: float = 0.0) -> tuple[list, list]:  # noqa: ANN001
    """Drain an unbounded ``execute_and_collect`` iterator on a thread until ``expected`` values came
    (or ``timeout_s``), wait ``linger_s`` more (for duplicates, if any, to show up), close it.

    Returns (values received, exceptions raised by the iterator other than its closing).
    """
    import threading
    import time

    received: list = []
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            for value in results:
                received.append(value)
        except BaseException as exc:  # closing the iterator from the main thread ends the loop
            errors.append(exc)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout_s
    while len(received) < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(linger_s)
    results.close()
    reader.join(timeout=20)
    return received, errors
