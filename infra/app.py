#!/usr/bin/env python3
"""CDK entry point.

Offline:   .venv/bin/python infra/app.py [-o DIR] [-c env=prod] [-c timeSeriesStore=influxdb] ...
           -> infra/cdk.out/IotAnomaly-<env>.template.json (no credentials, network or npm needed)
CDK CLI:   cd infra && npx cdk synth|deploy -c env=prod   (cdk.json runs this file)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

INFRA_DIR = Path(__file__).resolve().parent
OUTPUT_KEY = "__output__"
sys.path.insert(0, str(INFRA_DIR))
sys.path.insert(1, str(INFRA_DIR.parent))  # flink_job.core.schema: the job's property contract

from iot_anomaly_infra.app_builder import build_app  # noqa: E402


def parse_context_args(argv: list[str]) -> dict[str, str]:
    """``-c key=value`` / ``--context key=value`` pairs, as the CDK CLI accepts them; ``-o DIR``."""
    context: dict[str, str] = {}
    args = iter(argv)
    for arg in args:
        if arg in ("-o", "--output"):
            context[OUTPUT_KEY] = next(args, "")
            continue
        if arg in ("-c", "--context"):
            pair = next(args, "")
        elif arg.startswith("--context="):
            pair = arg.split("=", 1)[1]
        else:
            raise SystemExit(f"unknown argument {arg!r}; usage: app.py [-o DIR] [-c key=value ...]")
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"context must be key=value, got {pair!r}")
        context[key] = value
    return context


def main() -> None:
    started = time.perf_counter()
    context = parse_context_args(sys.argv[1:])
    output = context.pop(OUTPUT_KEY, None)
    # Under the CDK CLI, CDK_OUTDIR is set and the CLI owns the output directory.
    outdir = None if os.environ.get("CDK_OUTDIR") else Path(output or INFRA_DIR / "cdk.out")
    app, stack = build_app(context, outdir)
    assembly = app.synth()
    if outdir is not None:
        print(
            f"synthesized {stack.stack_name} into {assembly.directory} "
            f"in {time.perf_counter() - started:.1f} s"
        )


if __name__ == "__main__":
    main()
