"""The Flink environment, configured for MSF or for a local minicluster.

MSF 2.2 rejects configuration keys outside its allow-list and owns checkpointing, jars and JVM
options, so those are set only for local runs. A local run of the unzipped MSF zip (no
``local.jars``) takes its jar and Python path from the run options, as MSF does. Local runs keep
their last checkpoint when cancelled, failed or killed, can resume from it (``local.restore``, see
``flink_job.pipeline.checkpoints``) and serve the REST API / web UI on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from flink_job.config import AppConfig, LocalConfig
from flink_job.pipeline.checkpoints import default_checkpoint_dir, resolve_restore


# PyFlink's Python-side knobs: a state cache big enough for every series a subtask holds, so
# detector state is not unpickled on each micro-batch. Bundle size and time are set per Python
# operator instead (``flink_job.pipeline.bundles``), never here: set here they would override them.
def python_options() -> dict[str, str]:
    return {
        "python.state.cache-size": "100000",
        "python.map-state.read-cache-size": "100000",
        "python.map-state.write-cache-size": "100000",
        "python.fn-execution.arrow.batch.size": "10000",
    }


# A free port chosen once per process when local.rest_port is 0, so the URL printed (and the
# REST calls of ``iot-anomaly run-job``) match the port the minicluster binds.
_free_rest_port: int | None = None


@dataclass(frozen=True)
class LocalRun:
    """Where the local minicluster of this process can be reached and keeps its snapshots."""

    rest_url: str  # REST API and web UI, on 127.0.0.1
    checkpoint_dir: str  # file:// URL
    restored_from: str | None  # the checkpoint/savepoint restored, if any


_local_run: LocalRun | None = None


def current_local_run() -> LocalRun | None:
    """The local run that ``create_environment`` set up in this process (None before / on MSF)."""
    return _local_run


def rest_port(loc: LocalConfig) -> int:
    """``local.rest_port``, or (0) a free loopback port chosen once for this process."""
    global _free_rest_port
    if loc.rest_port:
        return loc.rest_port
    if _free_rest_port is None:
        # Flink's own "0" would bind a random port we cannot read back from PyFlink easily.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            _free_rest_port = s.getsockname()[1]
    return _free_rest_port


def checkpoint_dir(loc: LocalConfig) -> str:
    return loc.checkpoint_dir or default_checkpoint_dir()


def local_options(cfg: AppConfig) -> dict[str, str]:
    """Settings MSF forbids from code; applied only off MSF."""
    assert cfg.local is not None
    loc = cfg.local
    port = str(rest_port(loc))
    opts = {
        "python.executable": sys.executable,
        "python.client.executable": sys.executable,
        "execution.checkpointing.interval": f"{loc.checkpoint_interval_ms} ms",
        "execution.checkpointing.min-pause": f"{min(1000, loc.checkpoint_interval_ms)} ms",
        # detector state outgrows the JobManager's 5 MB in-memory checkpoint limit
        "execution.checkpointing.storage": "filesystem",
        "execution.checkpointing.dir": checkpoint_dir(loc),
        # keep the last checkpoint when the job is cancelled or fails (and when the process is
        # killed, nothing deletes it anyway): `--restore latest` resumes from it
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "parallelism.default": str(loc.parallelism),
        # fail visibly instead of restarting forever on a developer machine
        "restart-strategy.type": "fixed-delay",
        "restart-strategy.fixed-delay.attempts": str(loc.restart_attempts),
        "restart-strategy.fixed-delay.delay": f"{loc.restart_delay_ms} ms",
        # the REST API and web UI, on loopback only; bind-port wins over port for the server, and
        # the local executor would set it to "0" (random) if absent
        "rest.bind-address": "127.0.0.1",
        "rest.address": "127.0.0.1",
        "rest.bind-port": port,
        "rest.port": port,
        # S3 through the flink-s3-fs-hadoop plugin, pointed at the emulator
        "s3.path.style.access": "true",
        "s3.access-key": "testing",
        "s3.secret-key": "testing",
    }
    restore_path = resolve_restore(loc.restore, checkpoint_dir(loc))
    if restore_path:
        opts["execution.state-recovery.path"] = restore_path
    jars = cfg.pipeline_jars()  # local.jars, else the run options' jarfile in the unzipped zip
    if jars:
        opts["pipeline.jars"] = jars
    if cfg.runs_from_zip and cfg.run_options.py_archives:
        opts["python.archives"] = ",".join(cfg.run_options.py_archive_specs(cfg.app_root))
    if loc.aws_endpoint:
        opts["s3.endpoint"] = loc.aws_endpoint
        opts["s3.endpoint.region"] = cfg.sinks.aws_region
    if submitted_by_cli():
        # `flink run` to a session cluster: the CLI owns the cluster's address, -p and -j, and the
        # job's settings would override them (a random REST port, no flink-python jar, no -p).
        for key in CLI_OWNED_KEYS:
            opts.pop(key, None)
    return opts


CLI_OWNED_KEYS = ("rest.bind-address", "rest.address", "rest.bind-port", "rest.port", "parallelism.default",
                  "pipeline.jars")  # fmt: skip


def submitted_by_cli() -> bool:
    """True under ``flink run``: its Python launcher sets PYFLINK_GATEWAY_PORT; a plain
    ``python -m flink_job.main`` starts a gateway of its own and has no such variable."""
    return "PYFLINK_GATEWAY_PORT" in os.environ


def flink_options(cfg: AppConfig) -> dict[str, str]:
    """Every option the job sets from code: MSF-allowed ones always, the rest only locally."""
    options = python_options()
    if cfg.is_local:
        options.update(local_options(cfg))
    return options


def add_python_path(paths: list) -> None:  # list[Path]
    """Put ``paths`` first on this interpreter's path and on PYTHONPATH (inherited by the workers)."""
    entries = [str(p) for p in paths]
    for entry in reversed(entries):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    current = [e for e in os.environ.get("PYTHONPATH", "").split(os.pathsep) if e]
    os.environ["PYTHONPATH"] = os.pathsep.join([*entries, *(e for e in current if e not in entries)])


def prepare_process_env(cfg: AppConfig) -> None:
    """Process environment for a local run; must happen before the gateway JVM starts."""
    if not cfg.is_local:
        return
    # The unzipped zip: its pyFiles (vendored dependencies) on the path, as MSF puts them.
    py_files = cfg.local_python_path()
    if py_files:
        add_python_path([cfg.app_root, *py_files])
    # The JVM's AWS SDK v2 speaks CBOR to Kinesis unless told otherwise; moto rejects CBOR.
    os.environ.setdefault("CBOR_ENABLED", "false")
    jvm_args = os.environ.get("JVM_ARGS", "")
    if "aws.cborEnabled" not in jvm_args:
        # the local minicluster lives in the gateway JVM, which reads JVM_ARGS at start
        os.environ["JVM_ARGS"] = f"{jvm_args} -Daws.cborEnabled=false".strip()
    if cfg.local.plugins_dir:
        import pyflink

        # PyFlink resets FLINK_PLUGINS_DIR to its own folder unless FLINK_HOME is set.
        os.environ.setdefault("FLINK_HOME", os.path.dirname(os.path.abspath(pyflink.__file__)))
        os.environ["FLINK_PLUGINS_DIR"] = cfg.local.plugins_dir
    # Flink's CLI logging config prints Hadoop (S3A) INFO lines on stdout; keep them in the log file.
    os.environ.setdefault("LOG4J_PROPERTIES", str(Path(__file__).with_name("log4j-local.properties")))
    # Python UDFs as real worker processes, as on a cluster (threads share one GIL otherwise).
    os.environ.setdefault("_python_worker_execution_mode", "process")


def _init_filesystems(conf, plugins_dir: str = "") -> None:  # noqa: ANN001 - pyflink Configuration
    """Load filesystem plugins (S3) in the gateway JVM, where the graph is built.

    The minicluster initialises them only when the job starts, but FileSink needs the s3://
    scheme while the graph is translated. ``plugins_dir`` is read here rather than through
    FLINK_PLUGINS_DIR: the JVM reads its environment once, when it starts, and an earlier job in
    the same Python process (a notebook, a test session) may have started it without that variable.
    """
    from pyflink.java_gateway import get_gateway

    jvm = get_gateway().jvm
    j_conf = conf._j_configuration
    plugin = jvm.org.apache.flink.core.plugin
    if plugins_dir:
        found = plugin.DirectoryBasedPluginFinder(jvm.java.io.File(plugins_dir).toPath()).findPlugins()
        options = jvm.org.apache.flink.configuration.CoreOptions
        plugins = plugin.DefaultPluginManager(found, options.getPluginParentFirstLoaderPatterns(j_conf))
    else:
        plugins = plugin.PluginUtils.createPluginManagerFromRootFolder(j_conf)
    jvm.org.apache.flink.core.fs.FileSystem.initialize(j_conf, plugins)


def create_environment(cfg: AppConfig):  # noqa: ANN201 - StreamExecutionEnvironment
    """Build the job's environment from ``cfg`` (the graph is DataStream API only)."""
    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment

    prepare_process_env(cfg)
    conf = Configuration()
    options = flink_options(cfg)
    for key, value in options.items():
        conf.set_string(key, value)
    env = StreamExecutionEnvironment.get_execution_environment(conf)
    if cfg.is_local:
        _init_filesystems(conf, cfg.local.plugins_dir)
        global _local_run
        restored = options.get("execution.state-recovery.path")
        rest = f"http://127.0.0.1:{options['rest.port']}" if "rest.port" in options else ""
        _local_run = LocalRun(rest, checkpoint_dir(cfg.local), restored)
        if restored:
            print(f"iot-anomaly: restoring from {restored} (local.restore={cfg.local.restore})", flush=True)
    if cfg.pipeline.parallelism:
        env.set_parallelism(cfg.pipeline.parallelism)
    # Chained JVM operators hand records over without a defensive copy (the planner's RowData
    # copies were ~10% of the JVM's samples): +16% replay throughput. Safe here: no operator of ours
    # keeps an input object across calls (the micro-batcher copies the field values it buffers).
    env.get_config().enable_object_reuse()
    return env
