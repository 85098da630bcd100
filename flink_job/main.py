"""Entry point of the streaming job (on MSF, the zip's main.py calls ``main``).

Start-up order: read and validate the runtime properties, prepare the local process environment
(the unzipped zip's pyFiles on the Python path), read the secret by ARN, build the graph, run.
Any failure before the job runs prints one line saying what is wrong, on stdout and stderr, so it
reaches MSF's CloudWatch log instead of a bare "Python process exits with code 1".
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path

from flink_job.config import LOCAL_ENV, PROPERTIES_ENV, AppConfig, load_config, properties_path
from flink_job.core.errors import ConfigError

JOB_NAME = "iot-anomaly-detection"
def default_app_root() -> Path:
    """The entry script's folder (the unzipped zip on MSF); the working directory otherwise."""
    script = sys.argv[0] if sys.argv and sys.argv[0].endswith(".py") else ""
    return Path(script).resolve().parent if script else Path.cwd()


def start_up(
    properties: str | None = None, app_root: str | os.PathLike | None = None, restore: str | None = None
) -> AppConfig:
    """Load and validate the config, prepare a local run, read secrets; raise ConfigError on bad input."""
    from flink_job.pipeline.environment import prepare_process_env

    cfg = load_config(properties, app_root=app_root if app_root is not None else default_app_root())
    if restore:  # --restore overrides local.restore
        from flink_job.pipeline.checkpoints import with_restore

        cfg = with_restore(cfg, restore)
    prepare_process_env(cfg)  # pyFiles on the path before boto3 is imported
    if cfg.sinks.timeseries_store == "influxdb":
        from flink_job.secrets import read_secret

        # The writers read it on the workers; reading it here too fails a bad ARN at start-up.
        read_secret(
            cfg.sinks.influxdb_auth_secret_arn,
            group="sinks",
            key="influxdb.auth_secret_arn",
            endpoint=cfg.local.aws_endpoint if cfg.local else "",
            region=cfg.sinks.aws_region,
        )
    return cfg


def build(  # noqa: ANN201
    properties: str | None = None, app_root: str | os.PathLike | None = None, restore: str | None = None
):
    """Load the config and build the whole graph; nothing runs yet. -> (env, cfg, graph)"""
    from flink_job.pipeline.environment import create_environment
    from flink_job.pipeline.graph import build_graph

    cfg = start_up(properties, app_root, restore)
    env = create_environment(cfg)
    graph = build_graph(env, cfg)
    return env, cfg, graph


def _say(message: str) -> None:
    """To stdout and stderr: MSF's log shows the Python driver's output, whichever stream it keeps."""
    for stream in (sys.stdout, sys.stderr):
        print(message, file=stream, flush=True)


def describe(cfg: AppConfig, properties: str | None) -> str:
    run = cfg.run_options
    where = "local" if cfg.is_local else "MSF"
    parts = [f"properties={properties_path(properties)}", f"mode={where}"]
    if cfg.is_local:
        parts.append(f"pipeline.jars={cfg.pipeline_jars() or '-'}")
        if cfg.local_python_path():
            parts.append(f"pyFiles={','.join(str(p) for p in cfg.local_python_path())}")
    elif run.jarfile:
        parts.append(f"jarfile={run.jarfile} pyFiles={run.py_files or '-'}")
    parts.append(f"source={cfg.source.kind} store={cfg.sinks.timeseries_store}")
    from flink_job.core.detection import CORE  # the workers load the same files as this driver

    parts.append(f"detection={CORE}")
    return "iot-anomaly: starting " + " ".join(parts)


def main(argv: list[str] | None = None, app_root: str | os.PathLike | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="flink_job.main",
        description="Run the IoT anomaly-detection job. On MSF the runtime properties come from "
        "/etc/flink/application_properties.json; elsewhere pass --properties (or set "
        f"{PROPERTIES_ENV}) and set {LOCAL_ENV}=true for a local minicluster.",
    )
    parser.add_argument(
        "--properties", help="runtime-properties JSON (MSF's PropertyGroupId/PropertyMap list)"
    )
    parser.add_argument(
        "--restore",
        help="local runs: resume from 'latest' (the newest completed checkpoint or savepoint under "
        "local.checkpoint_dir) or a checkpoint/savepoint path; overrides local.restore",
    )
    args = parser.parse_args(argv)
    try:
        env, cfg, _graph = build(args.properties, app_root, args.restore)
    except ConfigError as exc:
        _say(f"iot-anomaly: configuration error: {exc}")
        return 2
    except Exception as exc:
        _say(f"iot-anomaly: job failed to start: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        return 1
    print(describe(cfg, args.properties), flush=True)
    try:
        env.execute(JOB_NAME)
    except Exception as exc:  # noqa: BLE001 - one line naming the cause, then the details
        _say(f"iot-anomaly: job failed: {root_cause(exc)}")
        traceback.print_exc()
        return 1
    return 0


def root_cause(exc: BaseException) -> str:
    """The most telling line of a failed job: a Kinesis source cause if any, else the deepest cause.

    A local job's failure arrives as a Py4J error wrapping Flink's JobExecutionException, whose
    chain ends in what really went wrong (a missing stream, an unreachable endpoint, a sink fault).
    """
    messages: list[str] = []
    j_exc = getattr(exc, "java_exception", None)
    seen = 0
    while j_exc is not None and seen < 50:
        messages.append(f"{j_exc.getClass().getSimpleName()}: {j_exc.getMessage()}")
        j_exc, seen = j_exc.getCause(), seen + 1
    if not messages:
        messages = [f"{type(exc).__name__}: {exc}"]
    for message in messages:
        if "Kinesis source: " in message:
            return message[message.index("Kinesis source: ") :].splitlines()[0]
    return messages[-1].splitlines()[0]


if __name__ == "__main__":
    sys.exit(main())
