"""Entry point of the streaming job (on MSF, the zip's main.py calls ``main``)."""

from __future__ import annotations

import argparse
import sys

from flink_job.config import LOCAL_ENV, PROPERTIES_ENV, load_config
from flink_job.core.errors import ConfigError

JOB_NAME = "iot-anomaly-detection"


def build(properties: str | None = None):  # noqa: ANN201 - (env, t_env, cfg, graph)
    """Load the config and build the whole graph; nothing runs yet."""
    from flink_job.pipeline.environment import create_environments
    from flink_job.pipeline.graph import build_graph

    cfg = load_config(properties)
    env, t_env = create_environments(cfg)
    graph = build_graph(env, t_env, cfg)
    return env, t_env, cfg, graph


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="flink_job.main",
        description="Run the IoT anomaly-detection job. On MSF the runtime properties come from "
        "/etc/flink/application_properties.json; elsewhere pass --properties (or set "
        f"{PROPERTIES_ENV}) and set {LOCAL_ENV}=true for a local minicluster.",
    )
    parser.add_argument(
        "--properties", help="runtime-properties JSON (MSF's PropertyGroupId/PropertyMap list)"
    )
    args = parser.parse_args(argv)
    try:
        env, _t_env, _cfg, _graph = build(args.properties)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    env.execute(JOB_NAME)
    return 0


if __name__ == "__main__":
    sys.exit(main())
