"""``iot-anomaly run-job`` stops cleanly: SIGINT/SIGTERM -> stop-with-savepoint, drained.

The job runs in this process (``env.execute`` blocks the main thread in a py4j call), so the
stop goes through the minicluster's REST API on 127.0.0.1 from a watcher thread: the signal
handler only sets a flag. A drained stop emits MAX_WATERMARK first, so windows, timers and sink
buffers flush and nothing read is lost; the savepoint lands in ``<checkpoint_dir>/savepoints``,
where ``--restore latest`` finds it. If the savepoint fails, the job is cancelled instead (its
last checkpoint is retained). A second signal aborts at once.

Ctrl-C in a terminal signals the whole process group: PyFlink starts its gateway JVM with SIGINT
ignored, and the Python workers it spawns inherit that, so only this driver reacts to it.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType, TracebackType

from localdev.flink_rest import RUNNING, cancel, jobs, stop_with_savepoint, tasks_running

TERMINAL = {"FINISHED", "FAILED", "CANCELED", "SUSPENDED"}


def _say(msg: str) -> None:
    print(f"iot-anomaly: {msg}", file=sys.stderr, flush=True)


class DrainedStopOnSignal:
    """Context manager around a blocking local ``env.execute``: prints the web UI URL once the
    job runs and turns SIGINT/SIGTERM into a drained stop-with-savepoint.

    ``local_run`` returns the run's ``flink_job.pipeline.environment.LocalRun`` (rest_url,
    checkpoint_dir) once the environment exists, None before.
    """

    def __init__(self, local_run, poll_s: float = 0.5) -> None:  # noqa: ANN001 - () -> LocalRun | None
        self._local_run = local_run
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._done = threading.Event()
        self._job_id: str | None = None
        self._thread = threading.Thread(target=self._watch, name="drained-stop", daemon=True)
        self._previous: dict[int, object] = {}
        self.savepoint: str | None = None

    def __enter__(self) -> DrainedStopOnSignal:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_signal)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._done.set()
        # let the watcher print the savepoint it is reporting
        self._thread.join(timeout=10.0)
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._stop.is_set() or self._job_id is None:
            # a second signal, or no running job to drain yet: stop the hard way
            _say(f"{signal.Signals(signum).name}: aborting without a savepoint")
            raise KeyboardInterrupt
        _say(f"{signal.Signals(signum).name}: stopping the job with a drained savepoint (again to abort)")
        self._stop.set()

    def _wait(self, seconds: float) -> bool:
        """Sleep; True when the run is over."""
        return self._done.wait(seconds)

    def _watch(self) -> None:
        run = None
        while run is None:
            if self._wait(self._poll_s):
                return
            run = self._local_run()
        while self._job_id is None:
            try:
                running = [j for j in jobs(run.rest_url) if j.get("state") == RUNNING]
            except (OSError, ValueError):
                running = []  # REST endpoint not up yet
            if running:
                self._job_id = running[0]["jid"]
                _say(f"job {self._job_id} running; web UI {run.rest_url}")
            elif self._wait(self._poll_s):
                return
        while not self._stop.wait(self._poll_s):
            if self._done.is_set():
                return
        if not self._done.is_set():  # a signal after the job ended has nothing left to stop
            self._drained_stop(run)

    def _drained_stop(self, run, attempts: int = 3) -> None:  # noqa: ANN001 - LocalRun
        from flink_job.pipeline.checkpoints import local_path, savepoint_dir

        target = savepoint_dir(run.checkpoint_dir)
        folder = local_path(target)
        before = _savepoints(folder)
        for attempt in range(1, attempts + 1):
            self._wait_tasks_running(run, timeout_s=60.0)
            try:
                self.savepoint = stop_with_savepoint(run.rest_url, self._job_id, target)
                break
            except (OSError, RuntimeError, ValueError, KeyError) as exc:
                # The per-job minicluster shuts down as soon as the job finishes, which can beat
                # our last status poll: a new savepoint on disk tells that the stop went through.
                self._done.wait(5.0)
                new = sorted(_savepoints(folder) - before, key=lambda p: Path(p, "_metadata").stat().st_mtime)
                if new and self._done.is_set():
                    self.savepoint = new[-1]
                    break
                if self._done.is_set():
                    _say(f"the job ended before its savepoint completed: {exc}")
                    return
                if attempt == attempts:
                    self._cancel(run, exc)
                    return
                _say(f"stop-with-savepoint attempt {attempt} failed ({exc}); trying again")
                time.sleep(2.0)
        _say(f"job stopped with a drained savepoint: {self.savepoint}")
        _say("resume from it with: iot-anomaly run-job --properties ... --restore latest")

    def _wait_tasks_running(self, run, timeout_s: float) -> None:  # noqa: ANN001 - LocalRun
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self._done.is_set():
            try:
                if tasks_running(run.rest_url, self._job_id):
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.5)

    def _cancel(self, run, exc: Exception) -> None:  # noqa: ANN001 - LocalRun
        _say(f"stop-with-savepoint failed ({exc}); cancelling the job")
        try:
            cancel(run.rest_url, self._job_id)
            _say("job cancelled; its last completed checkpoint is retained (--restore latest)")
        except (OSError, ValueError) as exc2:
            _say(f"cancel failed too: {exc2}")


def _savepoints(folder) -> set[str]:  # noqa: ANN001 - Path | None
    """Completed savepoints in ``folder`` (their paths)."""
    if folder is None or not folder.is_dir():
        return set()
    return {
        str(d) for d in folder.iterdir() if d.name.startswith("savepoint-") and (d / "_metadata").is_file()
    }


__all__ = ["DrainedStopOnSignal"]
