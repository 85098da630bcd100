"""Synthesize each infra configuration once per test session (a synth costs seconds)."""

from __future__ import annotations

import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

INFRA_DIR = Path(__file__).resolve().parents[2] / "infra"
if str(INFRA_DIR) not in sys.path:
    sys.path.insert(0, str(INFRA_DIR))

from aws_cdk import App, CfnElement  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402
from iot_anomaly_infra.app_builder import build_app  # noqa: E402
from iot_anomaly_infra.stack import IotAnomalyStack  # noqa: E402

ALERT_EMAILS = "oncall@example.com,plant-manager@example.com"
OPS_EMAILS = "ops@example.com"


@dataclass
class Synthesized:
    app: App
    stack: IotAnomalyStack
    template: Template
    raw: dict[str, Any]
    outdir: Path

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.raw["Resources"].items() if v["Type"] == resource_type}

    def one(self, resource_type: str) -> dict[str, Any]:
        found = list(self.resources(resource_type).values())
        assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
        return found[0]

    def logical_id(self, construct) -> str:
        cfn = construct if isinstance(construct, CfnElement) else construct.node.default_child
        return self.stack.resolve(self.stack.get_logical_id(cfn))


def synthesize(outdir: Path, context: dict[str, Any]) -> Synthesized:
    """Synthesizes with the AwsSolutions cdk-nag plugin: any unacknowledged finding raises here."""
    app, stack = build_app(context, outdir)
    assembly = app.synth()
    raw = assembly.get_stack_artifact(stack.artifact_id).template
    return Synthesized(app=app, stack=stack, template=Template.from_json(raw), raw=raw, outdir=outdir)


@pytest.fixture(scope="session")
def fake_app_zip(tmp_path_factory) -> Path:
    """A zip shaped like `make package` output (main.py, lib/<one jar>, python_deps/)."""
    path = tmp_path_factory.mktemp("dist") / "iot-anomaly-flink.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("main.py", "print('job')\n")
        zf.writestr("lib/pyflink-dependencies.jar", b"PK\x05\x06" + bytes(18))
        zf.writestr("python_deps/README", "vendored deps\n")
    return path


@pytest.fixture(scope="session")
def dev(tmp_path_factory) -> Synthesized:
    """dev, Timestream (LiveAnalytics, opt-in), provisioned stream; no zip built -> placeholder code, not
    started."""
    return synthesize(
        tmp_path_factory.mktemp("dev"),
        {"env": "dev", "appZip": "does/not/exist.zip", "alertEmails": ALERT_EMAILS, "opsEmails": OPS_EMAILS,
         "timeSeriesStore": "timestream"},
    )


@pytest.fixture(scope="session")
def default_stack(tmp_path_factory) -> Synthesized:
    """Every context key at its default, as a new user deploys it first."""
    return synthesize(tmp_path_factory.mktemp("default"), {})


@pytest.fixture(scope="session")
def prod(tmp_path_factory, fake_app_zip) -> Synthesized:
    """prod, Timestream (LiveAnalytics), with the built zip -> real code asset and the start-after-deploy
    resource."""
    return synthesize(
        tmp_path_factory.mktemp("prod"),
        {"env": "prod", "appZip": str(fake_app_zip), "alertEmails": ALERT_EMAILS,
         "timeSeriesStore": "timestream"},
    )


@pytest.fixture(scope="session")
def influx(tmp_path_factory, fake_app_zip) -> Synthesized:
    """prod, Timestream for InfluxDB in a VPC, on-demand stream."""
    return synthesize(
        tmp_path_factory.mktemp("influx"),
        {
            "env": "prod",
            "timeSeriesStore": "influxdb",
            "streamMode": "on_demand",
            "appZip": str(fake_app_zip),
        },
    )
