"""The job's contract (flink_job.core.schema): one declaration per key, used by everyone, documented."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import sys
from pathlib import Path

import pytest

from flink_job import config as job_config
from flink_job.core import schema
from flink_job.core.detection.config import (
    DETECTOR_CLASSES,
    DetectionConfig,
    constructor_params,
    detector_keys,
)
from flink_job.core.errors import ConfigError
from flink_job.core.settings import format_value, keys_of, parse_group


def test_the_configuration_reference_is_generated_from_the_schema():
    assert schema.DOC_PATH.read_text() == schema.reference_markdown(), (
        "docs/configuration.md is stale: run `python -m flink_job.core.schema --write`"
    )


def test_the_job_loads_exactly_the_groups_of_the_schema():
    assert set(schema.GROUPS) == job_config._KNOWN_GROUPS
    for name, cls in job_config._GROUPS.items():
        assert schema.GROUPS[name].config is cls


@pytest.mark.parametrize("group", [g for g in schema.GROUPS.values() if not g.patterns], ids=lambda g: g.name)
def test_every_key_is_declared_once_and_its_default_round_trips(group):
    keys = group.keys()
    names = [k.name for k in keys]
    assert len(names) == len(set(names)), "one spelling per key"
    assert all(k.doc.strip() for k in keys), "every key has a description"
    # every public field of the group is a declared key (nothing configurable escapes the schema)
    assert {k.field for k in keys} == {f.name for f in dataclasses.fields(group.config)}
    # the defaults, written as properties, load back as the defaults
    as_props = {k.name: format_value(k.default) for k in keys}
    assert group.config(**parse_group(group.config, as_props, group.name)) == group.config()


def test_each_detector_declares_its_parameters_once():
    """The detection group's detector keys are the detectors' own constructor parameters: their
    defaults are the job's defaults, and a detector built from the config equals one built bare."""
    det = DetectionConfig()
    declared = {k.name for k in keys_of(DetectionConfig)}
    for name, cls in DETECTOR_CLASSES.items():
        for key, param in detector_keys(cls):
            assert key in declared and getattr(det, key) == param.default, key
            assert cls.param_docs.get(param.name), f"{cls.__name__}.{param.name} has no description"
        assert det.build_detector(name).to_state() == cls().to_state()
        assert set(det.params_for(name)) == {p.name for p in constructor_params(cls)}


@pytest.mark.parametrize("name", sorted(DETECTOR_CLASSES))
def test_constructor_params_are_the_source_signature_compiled_or_not(name):
    """A detector compiled by mypyc (localdev.native) hides its signature; the config still reads
    the one written in its source, and the (compiled) constructor takes every parameter by name."""
    cls = DETECTOR_CLASSES[name]
    source = Path(inspect.getfile(sys.modules[cls.__module__]))
    tree = ast.parse(source.with_name(source.name.split(".", 1)[0] + ".py").read_text())
    init = next(f for c in tree.body if isinstance(c, ast.ClassDef) and c.name == cls.__name__
                for f in c.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
    written = [a.arg for a in init.args.args[1:]]
    assert [p.name for p in constructor_params(cls)] == written
    det = DetectionConfig()
    assert cls(**det.params_for(name)).to_state() == det.build_detector(name).to_state()


def test_writers_of_properties_are_held_to_the_schema():
    doc = schema.document({"source": {"kind": "file", "file_path": "/x"}, "detection": {"zscore_z50": 5}})
    assert doc == [
        {"PropertyGroupId": "source", "PropertyMap": {"kind": "file", "file_path": "/x"}},
        {"PropertyGroupId": "detection", "PropertyMap": {"zscore_z50": "5"}},
    ]
    with pytest.raises(ConfigError, match="did you mean 'file_path'"):
        schema.document({"source": {"file.path": "/x"}})
    with pytest.raises(ConfigError, match="did you mean 'sinks'"):
        schema.document({"sink": {}})
    with pytest.raises(ConfigError, match="unknown level"):
        schema.properties("thresholds", {"temperature.too_hot": "99"})
    # values are not checked there: infra passes CloudFormation tokens
    token = "${Token[TOKEN.1]}"
    assert schema.properties("source", {"stream.arn": token}) == {"stream.arn": token}


def test_allowed_values_are_enforced_for_lists_too():
    with pytest.raises(ConfigError, match="'forest' is not one of"):
        DetectionConfig.from_properties({"detectors": "zscore,forest"})
