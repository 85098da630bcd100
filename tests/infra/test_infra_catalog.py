"""The archive catalogue: Glue tables with partition projection, an encrypted Athena workgroup and the
named queries, all from the job's own definitions (flink_job.history), which the local engine runs."""

from __future__ import annotations

from flink_job.history.catalog import FIRST_DAY, PARTITIONS, TABLES
from flink_job.history.queries import QUERIES


def _processed(s) -> dict:
    return {"Ref": s.logical_id(s.stack.buckets.processed)}


def test_a_glue_table_per_archive_folder_with_the_catalogue_columns(default_stack):
    s = default_stack
    db = s.raw["Resources"][s.logical_id(s.stack.catalog.database)]["Properties"]["DatabaseInput"]["Name"]
    assert db == "iot_anomaly_archive_dev"
    glue_tables = s.resources("AWS::Glue::Table").values()
    tables = {r["Properties"]["TableInput"]["Name"]: r["Properties"] for r in glue_tables}
    assert set(tables) == {t.name for t in TABLES}
    for t in TABLES:
        props = tables[t.name]
        assert props["DatabaseName"] == db
        table = props["TableInput"]
        sd = table["StorageDescriptor"]
        assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == list(t.columns)
        assert [(c["Name"], c["Type"]) for c in table["PartitionKeys"]] == list(PARTITIONS)
        assert sd["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
        assert sd["Location"] == {"Fn::Join": ["", ["s3://", _processed(s), f"/{t.folder}/"]]}
        p = table["Parameters"]
        assert p["projection.enabled"] == "true" and p["projection.dt.range"] == f"{FIRST_DAY},NOW"
        assert (p["projection.hr.range"], p["projection.hr.digits"]) == ("0,23", "2")  # the sink's hr=HH
        assert p["storage.location.template"] == {
            "Fn::Join": ["", ["s3://", _processed(s), f"/{t.folder}/dt=${{dt}}/hr=${{hr}}/"]]
        }


def test_athena_results_are_encrypted_with_the_data_key(default_stack):
    s = default_stack
    wg = s.one("AWS::Athena::WorkGroup")["Properties"]
    assert wg["Name"] == "iot-anomaly-archive-dev"
    conf = wg["WorkGroupConfiguration"]
    assert conf["EnforceWorkGroupConfiguration"] is True and conf["BytesScannedCutoffPerQuery"] > 0
    result = conf["ResultConfiguration"]
    assert result["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": {"Fn::GetAtt": [s.logical_id(s.stack.encryption.key), "Arn"]},
    }
    assert result["OutputLocation"] == {"Fn::Join": ["", ["s3://", _processed(s), "/athena-results/"]]}


def test_the_named_queries_are_the_ones_the_local_engine_runs(default_stack):
    s = default_stack
    queries = s.resources("AWS::Athena::NamedQuery").values()
    named = {r["Properties"]["Name"]: r["Properties"] for r in queries}
    assert set(named) == set(QUERIES)
    for name, q in QUERIES.items():
        assert named[name]["QueryString"] == q.sql  # the same text, not a copy that can drift
        assert named[name]["Database"] == "iot_anomaly_archive_dev"
        assert named[name]["WorkGroup"] == "iot-anomaly-archive-dev"
        assert ", ".join(q.params) in named[name]["Description"]
