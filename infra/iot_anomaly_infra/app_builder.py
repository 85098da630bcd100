"""Builds the CDK app: one environment per synthesis, cdk-nag AwsSolutions checks always on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from .config import INFRA_DIR, DeploymentConfig
from .stack import IotAnomalyStack

CDK_JSON = INFRA_DIR / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """Context from infra/cdk.json (the CDK CLI passes it itself; a plain ``python app.py`` does not)."""
    return dict(json.loads(CDK_JSON.read_text()).get("context", {}))


def build_app(
    context: dict[str, Any] | None = None, outdir: str | Path | None = None
) -> tuple[App, IotAnomalyStack]:
    merged = cdk_json_context()
    merged.update(context or {})
    app = App(context=merged, outdir=str(outdir) if outdir else None)
    cfg = DeploymentConfig.from_context(app.node)
    stack = IotAnomalyStack(app, cfg)
    # cdk-nag 3.x: a validation plugin; any unacknowledged finding makes app.synth() raise.
    Validations.of(app).add_plugins(AwsSolutionsChecks(verbose=True))
    return app, stack
