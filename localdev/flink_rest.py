"""Flink's REST API on 127.0.0.1, for local tools: the minicluster of ``run-job`` and the standalone
cluster of ``localdev.cluster`` (jobs, task states, savepoints, cancel)."""

from __future__ import annotations

import json
import time
import urllib.request

RUNNING = "RUNNING"


def rest_call(url: str, method: str = "GET", body: dict | None = None, timeout_s: float = 10.0) -> dict:
    """One JSON request; an empty answer is ``{}``."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else {}


def jobs(rest_url: str) -> list[dict]:
    """The cluster's jobs (``/jobs/overview``): jid, name, state, ..."""
    return rest_call(f"{rest_url}/jobs/overview", timeout_s=5.0).get("jobs", [])


def tasks_running(rest_url: str, job_id: str) -> bool:
    """True once every vertex of the job runs: a savepoint fails while tasks are still deploying."""
    vertices = rest_call(f"{rest_url}/jobs/{job_id}", timeout_s=5.0).get("vertices", [])
    return bool(vertices) and all(v.get("status") == RUNNING for v in vertices)


def operator_state_bytes(rest_url: str, job_id: str, checkpoint_id: int, name_part: str) -> int:
    """State size, in one completed checkpoint, of the job's vertices whose name holds ``name_part``."""
    base = f"{rest_url}/jobs/{job_id}"
    vertices = rest_call(base, timeout_s=5.0).get("vertices", [])
    ids = [v["id"] for v in vertices if name_part in v.get("name", "")]
    tasks = rest_call(f"{base}/checkpoints/details/{checkpoint_id}", timeout_s=5.0).get("tasks", {})
    return sum(int(tasks.get(v, {}).get("state_size", 0)) for v in ids)


def _failure(op: dict) -> str:
    """A readable cause from a failed async operation (its Java stack trace's cause lines)."""
    cause = op.get("failure-cause", {})
    trace = cause.get("stack-trace") or ""
    lines = [ln.strip() for ln in trace.splitlines() if ln and not ln[0].isspace()]
    return " <- ".join(lines[:4])[:1000] or cause.get("class") or str(op)[:500]


def savepoint_operation(rest_url: str, job_id: str, path: str, body: dict, timeout_s: float) -> str:
    """POST ``/jobs/<id>/<path>`` (``savepoints`` or ``stop``) and wait for it; -> the location."""
    trigger = rest_call(f"{rest_url}/jobs/{job_id}/{path}", "POST", body)["request-id"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = rest_call(f"{rest_url}/jobs/{job_id}/savepoints/{trigger}")
        if status.get("status", {}).get("id") == "COMPLETED":
            op = status.get("operation", {})
            if "location" in op:
                return op["location"]
            raise RuntimeError(f"savepoint of job {job_id} failed: {_failure(op)}")
        time.sleep(0.5)
    raise TimeoutError(f"the savepoint of job {job_id} did not complete within {timeout_s:.0f} s")


def stop_with_savepoint(
    rest_url: str, job_id: str, target_dir: str, drain: bool = True, timeout_s: float = 300.0
) -> str:
    """Stop ``job_id`` with a savepoint in ``target_dir``; ``drain`` sends MAX_WATERMARK first so
    windows, timers and sink buffers flush. -> the savepoint's location."""
    body = {"drain": drain, "targetDirectory": target_dir, "formatType": "CANONICAL"}
    return savepoint_operation(rest_url, job_id, "stop", body, timeout_s)


def cancel(rest_url: str, job_id: str) -> None:
    rest_call(f"{rest_url}/jobs/{job_id}?mode=cancel", "PATCH")
