"""The stack as a new user deploys it first: a time-series store a new AWS account can create, and a
template cfn-lint (pinned in the infra extra) finds no error in."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import synthesize

CFN_LINT = Path(sys.executable).parent / "cfn-lint"


def test_the_default_store_is_timestream_for_influxdb_not_liveanalytics(default_stack):
    assert default_stack.resources("AWS::Timestream::Database") == {}
    assert default_stack.resources("AWS::Timestream::Table") == {}
    assert len(default_stack.resources("AWS::Timestream::InfluxDBInstance")) == 1
    groups = {g["PropertyGroupId"]: g["PropertyMap"] for g in default_stack.one(
        "AWS::KinesisAnalyticsV2::Application")["Properties"]["ApplicationConfiguration"][
        "EnvironmentProperties"]["PropertyGroups"]}
    assert groups["sinks"]["timeseries.store"] == "influxdb"


def lint(template: Path) -> list[dict]:
    exe = str(CFN_LINT) if CFN_LINT.exists() else shutil.which("cfn-lint")
    assert exe, "cfn-lint is not installed: make test installs it (pyproject.toml, infra extra)"
    out = subprocess.run([exe, "--format", "json", str(template)], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode % 2 == 0, out.stderr[-2000:]  # 2/4/8: errors/warnings/infos found; odd: a crash
    return json.loads(out.stdout or "[]")


def test_cfn_lint_finds_no_error_and_no_maintenance_mode_service_in_the_default_stack(default_stack):
    template = default_stack.outdir / f"{default_stack.stack.stack_name}.template.json"
    findings = lint(template)
    rules = sorted({f["Rule"]["Id"] for f in findings})
    assert not [f for f in findings if f["Level"] == "Error"], [f for f in findings if f["Level"] == "Error"]
    assert "W3697" not in rules
    # what remains is CDK's own generated DependsOn next to a GetAtt/Ref (W3005): listed, not hidden
    assert set(rules) <= {"W3005"}, rules


@pytest.mark.parametrize("store", ["none"])
def test_cfn_lint_is_clean_for_the_other_new_account_store(tmp_path, store):
    synth = synthesize(tmp_path, {"timeSeriesStore": store})
    findings = lint(synth.outdir / f"{synth.stack.stack_name}.template.json")
    assert not [f for f in findings if f["Level"] == "Error"]
    assert "W3697" not in {f["Rule"]["Id"] for f in findings}
