"""A real Flink standalone session cluster on 127.0.0.1, started from PyFlink's own scripts.

One JobManager and N TaskManagers, each its own JVM process (``jobmanager.sh start`` and
``taskmanager.sh start`` from the ``apache-flink`` wheel), configured by a generated
``config.yaml`` in a work folder that also holds the logs, the pid files, checkpoints and
savepoints. Jobs are submitted with ``flink run -d`` (a separate client JVM, as a user would),
and watched, savepointed, stopped and cancelled through the REST API. TaskManagers are stopped
by the PIDs the daemon script recorded; ``kill_taskmanager`` SIGKILLs one to simulate a lost
machine (standalone mode does not replace it: call ``start_taskmanager``).

The job itself learns that it is not on MSF from ``IOT_ANOMALY_LOCAL=true`` in the client's
environment; its ``local`` property group then sets checkpointing, ``pipeline.jars`` and the
restart strategy in the job's own configuration, which overrides the cluster's (see
``job_properties``: ``local.parallelism`` is what ``flink run -p`` would otherwise set).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flink_job.core import schema
from localdev.flink_rest import cancel, rest_call, savepoint_operation, stop_with_savepoint

REPO = Path(__file__).resolve().parents[1]
JAR = REPO / "build" / "libs" / "pyflink-dependencies.jar"
PLUGINS = REPO / "build" / "flink-plugins"
TERMINAL = {"FINISHED", "FAILED", "CANCELED", "SUSPENDED"}


def flink_home() -> Path:
    """The ``pyflink`` package folder: it is a Flink distribution (bin/, conf/, lib/, opt/)."""
    import pyflink

    return Path(pyflink.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(msg: str) -> None:
    print(f"[cluster {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ClusterSettings:
    task_managers: int = 2
    slots: int = 2
    tm_process_memory: str = "1536m"
    jm_process_memory: str = "1024m"
    restart_attempts: int = 10
    restart_delay: str = "2 s"
    # the S3 filesystem plugin (gradle localPlugins); None: no plugins
    plugins_dir: Path | None = PLUGINS
    aws_endpoint: str = ""  # moto, for the S3 plugin (s3.endpoint)
    aws_region: str = "eu-central-1"
    extra: dict[str, str] = field(default_factory=dict)


def _yaml_scalar(value: str) -> str:
    return json.dumps(str(value))  # a JSON string is a valid YAML flow scalar


class StandaloneCluster:
    """JobManager + TaskManagers as separate processes; a context manager that stops them by PID."""

    def __init__(self, work: Path, settings: ClusterSettings | None = None) -> None:
        self.work = Path(work).resolve()
        self.settings = settings or ClusterSettings()
        self.home = flink_home()
        self.conf_dir = self.work / "conf"
        self.log_dir = self.work / "log"
        self.pid_dir = self.work / "pids"
        self.checkpoint_dir = self.work / "checkpoints"
        self.savepoint_dir = self.work / "savepoints"
        self.rest_port = 0
        self._tm_seq = 0
        # every JVM pid this object started (resource id -> pid for TaskManagers)
        self.jm_pid: int | None = None
        self.tm_pids: dict[str, int] = {}
        self.replaced: list[str] = []  # TaskManagers that exited by themselves and were replaced
        self._killed: set[int] = set()
        self._orphans: set[int] = set()  # Python workers of SIGKILLed TaskManagers

    # ----------------------------------------------------------------- configuration
    def config(self) -> dict[str, str]:
        s = self.settings
        java_opts_all = _flink_default_java_opts(self.home) + " -Daws.cborEnabled=false"
        conf = {
            "env.java.opts.all": java_opts_all,
            "env.log.dir": str(self.log_dir),
            "env.pid.dir": str(self.pid_dir),
            "jobmanager.rpc.address": "localhost",
            "jobmanager.rpc.port": str(free_port()),
            "jobmanager.bind-host": "127.0.0.1",
            "jobmanager.memory.process.size": s.jm_process_memory,
            "jobmanager.execution.failover-strategy": "region",
            "taskmanager.host": "127.0.0.1",
            "taskmanager.bind-host": "127.0.0.1",
            "taskmanager.numberOfTaskSlots": str(s.slots),
            "taskmanager.memory.process.size": s.tm_process_memory,
            "taskmanager.rpc.port": "0",
            "taskmanager.data.port": "0",
            "blob.server.port": "0",
            # TaskManager scratch files and the Python workers' unpacked files stay in the work folder
            "io.tmp.dirs": str(self.work / "tmp"),
            # p=2 on two TaskManagers: one subtask each, so losing one TaskManager hits the job
            # (Flink 2.x: taskmanager.load-balance.mode replaces cluster.evenly-spread-out-slots)
            "taskmanager.load-balance.mode": "SLOTS",
            "rest.address": "127.0.0.1",
            "rest.bind-address": "127.0.0.1",
            "rest.port": str(self.rest_port),
            "parallelism.default": "1",
            "python.executable": sys.executable,
            "python.client.executable": sys.executable,
            "execution.checkpointing.dir": self.checkpoint_dir.as_uri(),
            "execution.checkpointing.savepoint-dir": self.savepoint_dir.as_uri(),
            "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
            "execution.checkpointing.num-retained": "3",
            "restart-strategy.type": "fixed-delay",
            "restart-strategy.fixed-delay.attempts": str(s.restart_attempts),
            "restart-strategy.fixed-delay.delay": s.restart_delay,
            # a lost TaskManager is noticed by heartbeat; keep that well under the test's patience
            "heartbeat.timeout": "15000",
            "heartbeat.interval": "3000",
            "web.submit.enable": "false",
        }
        if s.aws_endpoint:
            # Filesystems are configured from the TaskManager's own config, not the job's.
            conf.update(
                {
                    "s3.endpoint": s.aws_endpoint,
                    "s3.endpoint.region": s.aws_region,
                    "s3.path.style.access": "true",
                    "s3.access-key": "testing",
                    "s3.secret-key": "testing",
                }
            )
        conf.update(s.extra)
        return conf

    def write_config(self) -> None:
        for d in (
            self.work / "tmp",
            self.conf_dir,
            self.log_dir,
            self.pid_dir,
            self.checkpoint_dir,
            self.savepoint_dir,
        ):
            d.mkdir(parents=True, exist_ok=True)
        lines = [f"{k}: {_yaml_scalar(v)}" for k, v in self.config().items()]
        (self.conf_dir / "config.yaml").write_text("\n".join(lines) + "\n")
        src = self.home / "conf"
        for name in ("log4j.properties", "log4j-cli.properties", "log4j-console.properties"):
            (self.conf_dir / name).write_text((src / name).read_text())

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of every script we run: our conf, logs, pids and plugins."""
        env = dict(os.environ)
        env.update(
            FLINK_HOME=str(self.home),
            FLINK_CONF_DIR=str(self.conf_dir),
            FLINK_LOG_DIR=str(self.log_dir),
            FLINK_PID_DIR=str(self.pid_dir),
            # the AWS SDK v2 speaks CBOR to Kinesis unless told otherwise; moto rejects CBOR
            CBOR_ENABLED="false",
            # names the pid and log files (the scripts use $USER, which may be unset)
            FLINK_IDENT_STRING="iot",
        )
        env.pop("JVM_ARGS", None)
        if self.settings.plugins_dir:
            env["FLINK_PLUGINS_DIR"] = str(self.settings.plugins_dir)
        else:
            env["FLINK_PLUGINS_DIR"] = str(self.work / "no-plugins")
            (self.work / "no-plugins").mkdir(parents=True, exist_ok=True)
        env.update(extra or {})
        return env

    def _script(self, name: str, *args: str, timeout_s: float = 60) -> str:
        done = subprocess.run(
            ["bash", str(self.home / "bin" / name), *args],
            env=self.env(), capture_output=True, text=True, timeout=timeout_s, start_new_session=True,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(
                f"{name} {' '.join(args)} failed ({done.returncode}): {done.stdout}{done.stderr}"
            )
        return done.stdout

    def _pid_file(self, daemon: str) -> Path:
        return self.pid_dir / f"flink-iot-{daemon}.pid"

    def _read_pids(self, daemon: str) -> list[int]:
        path = self._pid_file(daemon)
        return [int(x) for x in path.read_text().split()] if path.exists() else []

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> StandaloneCluster:
        self.rest_port = free_port()
        self.write_config()
        self._script("jobmanager.sh", "start")
        pids = self._read_pids("standalonesession")
        if not pids:
            raise RuntimeError("jobmanager.sh wrote no pid file")
        self.jm_pid = pids[-1]
        self._wait(lambda: self._rest_ok(), 90, "the JobManager's REST API")
        for _ in range(self.settings.task_managers):
            self.start_taskmanager(wait=False)
        self.wait_for_taskmanagers(self.settings.task_managers)
        log(f"cluster up: REST {self.rest_url}, JM pid {self.jm_pid}, TMs {self.tm_pids}")
        return self

    def start_taskmanager(self, wait: bool = True) -> tuple[str, int]:
        """One more TaskManager process; -> (resource id, pid). Its resource id names it in REST."""
        self._tm_seq += 1
        resource_id = f"tm-{self._tm_seq}"
        before = set(self._read_pids("taskexecutor"))
        self._script("taskmanager.sh", "start", "-D", f"taskmanager.resource-id={resource_id}")
        new = [p for p in self._read_pids("taskexecutor") if p not in before]
        if len(new) != 1:
            raise RuntimeError(f"taskmanager.sh start: expected one new pid, got {new}")
        self.tm_pids[resource_id] = new[0]
        if wait:
            self._wait(
                lambda: resource_id in self.registered_taskmanagers(), 90, f"TaskManager {resource_id}"
            )
        return resource_id, new[0]

    def kill_taskmanager(self, resource_id: str) -> int:
        """SIGKILL one TaskManager JVM (a lost machine); its Python workers are left to die alone."""
        pid = self.tm_pids.pop(resource_id)
        self._orphans |= set(_descendants(pid))
        os.kill(pid, signal.SIGKILL)
        self._killed.add(pid)
        _wait_gone(pid, 10)
        log(f"SIGKILLed TaskManager {resource_id} (pid {pid})")
        return pid

    def stop(self) -> None:
        """Stop every process this cluster started, by PID: TaskManagers, then the JobManager."""
        pids = [*self.tm_pids.values(), *([self.jm_pid] if self.jm_pid else [])]
        orphans = set(self._orphans)
        for pid in pids:
            orphans |= set(_descendants(pid))
        for pid in pids:
            _terminate(pid)
        for pid in orphans:  # Python workers of a killed TaskManager, if still around
            _terminate(pid, grace_s=3)
        self.tm_pids.clear()
        self.jm_pid = None
        for daemon in ("taskexecutor", "standalonesession"):
            self._pid_file(daemon).unlink(missing_ok=True)

    def __enter__(self) -> StandaloneCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def processes(self) -> list[dict[str, Any]]:
        """The cluster's live processes: role, pid, command line (first 160 chars)."""
        rows = []
        for role, pid in [
            ("jobmanager", self.jm_pid),
            *((f"taskmanager {r}", p) for r, p in self.tm_pids.items()),
        ]:
            if pid and _alive(pid):
                cmd = _cmdline(pid)
                main = next((t for t in cmd.split() if t.startswith("org.apache.flink.")), "")
                rows.append({"role": role, "pid": pid, "main": main, "cmd": cmd[:100]})
                for child in _descendants(pid):
                    rows.append({"role": f"  child of {pid}", "pid": child, "cmd": _cmdline(child)[:160]})
        return rows

    # ----------------------------------------------------------------- REST
    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest_port}"

    def rest(self, path: str, method: str = "GET", body: dict | None = None, timeout_s: float = 10) -> Any:
        return rest_call(f"{self.rest_url}{path}", method, body, timeout_s)

    def _rest_ok(self) -> bool:
        try:
            self.rest("/config", timeout_s=2)
            return True
        except (OSError, ValueError):
            if self.jm_pid and not _alive(self.jm_pid):
                raise RuntimeError(f"JobManager died; see {self.log_dir}") from None
            return False

    def registered_taskmanagers(self) -> dict[str, dict]:
        return {tm["id"]: tm for tm in self.rest("/taskmanagers")["taskmanagers"]}

    def replace_dead_taskmanagers(self) -> list[str]:
        """Start a TaskManager for each of ours whose process has exited, as a resource manager (MSF,
        Kubernetes) would; -> the resource ids replaced. PyFlink 2.2 can bring a surviving TaskManager
        down while it cancels its tasks after another one was lost: Beam's shared Python environment
        is released twice ("Reference count must not be negative", a fatal error)."""
        dead = [rid for rid, pid in self.tm_pids.items() if not _alive(pid)]
        for rid in dead:
            pid = self.tm_pids.pop(rid)
            log(f"TaskManager {rid} (pid {pid}) exited: {self._fatal_error() or 'no fatal error logged'}")
            self.replaced.append(rid)
            self.start_taskmanager(wait=False)
        return dead

    def _fatal_error(self) -> str:
        """The first fatal TaskManager error in the logs, with its cause's first line."""
        for path in sorted(self.log_dir.glob("flink-*-taskexecutor-*.log")):
            lines = path.read_text(errors="replace").splitlines()
            for i, line in enumerate(lines):
                if "Fatal error occurred while executing the TaskManager" in line:
                    return f"{path.name}: {lines[i + 1].strip() if i + 1 < len(lines) else line.strip()}"
        return ""

    def wait_for_taskmanagers(self, n: int, timeout_s: float = 120) -> None:
        """Until exactly the TaskManagers we run are registered (a killed one must have been dropped);
        one that exits meanwhile is replaced (``replace_dead_taskmanagers``)."""

        def ok() -> bool:
            self.replace_dead_taskmanagers()
            got = set(self.registered_taskmanagers())
            return len(got) == n and got == set(self.tm_pids)

        self._wait(ok, timeout_s, f"{n} registered TaskManagers, ours: {sorted(self.tm_pids)}")

    def job_status(self, job_id: str) -> str:
        return self.rest(f"/jobs/{job_id}")["state"]

    def job_details(self, job_id: str) -> dict:
        return self.rest(f"/jobs/{job_id}")

    def wait_for_status(self, job_id: str, states: set[str], timeout_s: float = 180) -> str:
        box: list[str] = []

        def ok() -> bool:
            box[:] = [self.job_status(job_id)]
            if box[0] in TERMINAL - states:
                raise RuntimeError(f"job {job_id} is {box[0]}: {self.root_exception(job_id)}")
            return box[0] in states

        self._wait(ok, timeout_s, f"job {job_id} in {sorted(states)}")
        return box[0]

    def wait_all_running(self, job_id: str, timeout_s: float = 180) -> None:
        """Until the job and every one of its subtasks is RUNNING (tasks deployed on TaskManagers)."""

        def ok() -> bool:
            d = self.job_details(job_id)
            if d["state"] in TERMINAL:
                raise RuntimeError(f"job {job_id} is {d['state']}: {self.root_exception(job_id)}")
            return d["state"] == "RUNNING" and all(v["status"] == "RUNNING" for v in d["vertices"])

        self._wait(ok, timeout_s, f"every task of job {job_id} RUNNING")

    def task_placement(self, job_id: str) -> dict[str, set[str]]:
        """TaskManager resource id -> names of the vertices with a subtask there."""
        out: dict[str, set[str]] = {}
        for v in self.job_details(job_id)["vertices"]:
            for st in self.rest(f"/jobs/{job_id}/vertices/{v['id']}/taskmanagers")["taskmanagers"]:
                out.setdefault(st["taskmanager-id"], set()).add(v["name"][:40])
        return out

    def job_metric(self, job_id: str, name: str) -> float | None:
        rows = self.rest(f"/jobs/{job_id}/metrics?get={name}")
        return float(rows[0]["value"]) if rows else None

    def num_restarts(self, job_id: str) -> int:
        value = self.job_metric(job_id, "numRestarts")
        return int(value) if value is not None else 0

    def exception_history(self, job_id: str) -> list[dict]:
        return self.rest(f"/jobs/{job_id}/exceptions").get("exceptionHistory", {}).get("entries", [])

    def root_exception(self, job_id: str) -> str:
        try:
            entries = self.exception_history(job_id)
        except (OSError, ValueError):
            return "?"
        return entries[0]["stacktrace"][:2000] if entries else "no exception recorded"

    def trigger_savepoint(self, job_id: str, timeout_s: float = 120) -> str:
        """A canonical savepoint of the running job; -> its location (file:// URL)."""
        body = {
            "target-directory": self.savepoint_dir.as_uri(),
            "cancel-job": False,
            "formatType": "CANONICAL",
        }
        return savepoint_operation(self.rest_url, job_id, "savepoints", body, timeout_s)

    def stop_with_savepoint(self, job_id: str, drain: bool = True, timeout_s: float = 180) -> str:
        """Stop-with-savepoint; ``drain`` sends MAX_WATERMARK first so windows, timers, sinks flush."""
        location = stop_with_savepoint(self.rest_url, job_id, self.savepoint_dir.as_uri(), drain, timeout_s)
        self.wait_for_status(job_id, {"FINISHED"}, 60)
        return location

    def cancel(self, job_id: str) -> None:
        cancel(self.rest_url, job_id)
        self.wait_for_status(job_id, {"CANCELED"}, 60)

    # ----------------------------------------------------------------- submission
    def submit(
        self,
        properties: Path,
        *,
        parallelism: int | None = None,
        savepoint: str | None = None,
        jar: Path = JAR,
        code_root: Path = REPO,
        timeout_s: float = 240,
    ) -> str:
        """``flink run -d`` the job (``python -m flink_job.main``) with these runtime properties.

        The ``flink_job`` and ``connectors`` packages of ``code_root`` are shipped with ``-pyfs``
        (see ``stage_python``; the client's PYTHONPATH starts with ``code_root``), the jar with ``-j``;
        ``IOT_ANOMALY_LOCAL=true`` in the client's environment makes the job apply its ``local``
        group. -> the job id.
        """
        args = ["run", "-d", "-j", str(jar), "-pyfs", str(self.stage_python(code_root)),
                "-pyclientexec", sys.executable, "-pyexec", sys.executable]  # fmt: skip
        if parallelism:
            args += ["-p", str(parallelism)]
        if savepoint:
            args += ["-s", savepoint]
        args += ["-pym", "flink_job.main", "--properties", str(properties)]
        started = time.monotonic()
        done = subprocess.run(
            ["bash", str(self.home / "bin" / "flink"), *args],
            env=self.env({"IOT_ANOMALY_LOCAL": "true", "PYTHONPATH": str(code_root)}), cwd=self.work,
            capture_output=True, text=True, timeout=timeout_s, start_new_session=True,
        )  # fmt: skip
        (self.log_dir / f"client-{int(time.time())}.out").write_text(
            done.stdout + "\n--- stderr\n" + done.stderr
        )
        match = re.search(r"JobID ([0-9a-f]{32})", done.stdout + done.stderr)
        if done.returncode != 0 or not match:
            raise RuntimeError(
                f"flink run failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
            )
        log(f"submitted job {match.group(1)} in {time.monotonic() - started:.1f} s "
            f"(p={parallelism or '-'}, savepoint={savepoint or '-'})")  # fmt: skip
        return match.group(1)

    def stage_python(self, code_root: Path) -> Path:
        """A folder holding copies of the job's packages, for ``-pyfs``.

        PyFlink puts a ``-pyfs`` folder itself on the workers' path, so shipping ``flink_job/``
        directly would let ``flink_job/secrets.py`` shadow the standard ``secrets`` module (numpy
        then fails: "cannot import name randbits"); the packages must sit one level down.
        """
        stage = self.work / "pyfiles" / f"src-{int(time.time() * 1000)}"
        for package in ("flink_job", "connectors"):
            shutil.copytree(
                code_root / package, stage / package, ignore=shutil.ignore_patterns("__pycache__", "java")
            )
        return stage

    # ----------------------------------------------------------------- helpers
    @staticmethod
    def _wait(pred: Any, timeout_s: float, what: str, every_s: float = 0.5) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if pred():
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
            time.sleep(every_s)


def job_properties(groups: dict[str, dict[str, str]], parallelism: int, rest_port: int) -> list[dict]:
    """Runtime properties for a ``flink run`` of the job.

    Under ``flink run`` the job drops the ``local`` settings the CLI owns (its REST address,
    ``pipeline.jars``, ``parallelism.default``: see ``environment.CLI_OWNED_KEYS``), so the
    parallelism comes from ``flink run -p`` (``StandaloneCluster.submit(parallelism=...)``). They are
    still set here to the cluster's values, so the properties also describe the run when read alone.
    """
    groups = {k: dict(v) for k, v in groups.items()}
    local = groups.setdefault("local", {})
    local["parallelism"] = str(parallelism)
    local["rest_port"] = str(rest_port)
    return schema.document(groups)


def _flink_default_java_opts(home: Path) -> str:
    """The wheel's own env.java.opts.all (the --add-opens Java 17 needs), from its config.yaml."""
    text = (home / "conf" / "config.yaml").read_text()
    m = re.search(r"^\s+all:\s*(--add-exports.*)$", text, re.M)
    return m.group(1).strip() if m else ""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (from /proc: children files)."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                kids = Path(f"/proc/{p}/task/{t}/children").read_text().split()
            except OSError:
                continue
            for k in map(int, kids):
                if k not in out:
                    out.append(k)
                    todo.append(k)
    return out


def _wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _terminate(pid: int, grace_s: float = 15) -> None:
    """SIGTERM, then SIGKILL after ``grace_s``."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    if not _wait_gone(pid, grace_s):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        _wait_gone(pid, 5)


__all__ = ["ClusterSettings", "StandaloneCluster", "flink_home", "job_properties"]
