"""The archive as a queryable data lake: a Glue database with one table per archive folder (partition
projection on dt/hr: no crawler), an Athena workgroup whose results are encrypted with the customer
key, and the named queries.

Tables and queries come from the job's own definitions (``flink_job.history.catalog`` and
``.queries``), which ``iot-anomaly history`` runs locally with DuckDB: the two cannot drift.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnOutput
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from flink_job.history.catalog import FIRST_DAY, PARTITIONS, TABLES, Table
from flink_job.history.queries import QUERIES

from .config import DeploymentConfig

JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
RESULTS_PREFIX = "athena-results/"
BYTES_SCANNED_CUTOFF = 10 * 1024**3  # a query that would scan more is cancelled (a forgotten dt filter)


class ArchiveCatalog(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, cfg: DeploymentConfig, key: kms.IKey, bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        self.database_name = cfg.underscored("archive")
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=self.database_name,
                description="The job's archive (gzip JSON lines by dt/hr): readings, anomalies, dead letters",
            ),
        )
        self.tables = {t.name: self._table(t, bucket) for t in TABLES}
        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=cfg.name("archive"),
            description="Queries over the IoT anomaly archive; results encrypted with the data key",
            recursive_delete_option=not cfg.is_production,
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=BYTES_SCANNED_CUTOFF,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{bucket.bucket_name}/{RESULTS_PREFIX}",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=key.key_arn
                    ),
                ),
            ),
        )
        self.queries = {}
        for q in QUERIES.values():
            named = athena.CfnNamedQuery(
                self,
                f"Query-{q.name}",
                name=q.name,
                description=f"{q.doc}; parameters in order: {', '.join(q.params)}",
                database=self.database_name,
                query_string=q.sql,
                work_group=self.workgroup.name,
            )
            named.node.add_dependency(self.workgroup)
            named.node.add_dependency(self.database)
            self.queries[q.name] = named
        CfnOutput(scope, "ArchiveDatabase", value=self.database_name)
        CfnOutput(scope, "AthenaWorkGroup", value=self.workgroup.name)

    def _table(self, t: Table, bucket: s3.IBucket) -> glue.CfnTable:
        location = f"s3://{bucket.bucket_name}/{t.folder}/"
        table = glue.CfnTable(
            self,
            f"Table-{t.name}",
            catalog_id=self.database.catalog_id,
            database_name=self.database_name,
            table_input=glue.CfnTable.TableInputProperty(
                name=t.name,
                description=t.doc,
                table_type="EXTERNAL_TABLE",
                parameters={
                    "classification": "json",
                    "compressionType": "gzip",
                    # partition projection: Athena derives the partitions, no crawler, no MSCK REPAIR
                    "projection.enabled": "true",
                    "projection.dt.type": "date",
                    "projection.dt.format": "yyyy-MM-dd",
                    "projection.dt.range": f"{FIRST_DAY},NOW",
                    "projection.dt.interval": "1",
                    "projection.dt.interval.unit": "DAYS",
                    "projection.hr.type": "integer",
                    "projection.hr.range": "0,23",
                    "projection.hr.digits": "2",
                    "storage.location.template": location + "dt=${dt}/hr=${hr}/",
                },
                partition_keys=[glue.CfnTable.ColumnProperty(name=n, type=ty) for n, ty in PARTITIONS],
                storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                    location=location,
                    columns=[glue.CfnTable.ColumnProperty(name=n, type=ty) for n, ty in t.columns],
                    input_format="org.apache.hadoop.mapred.TextInputFormat",
                    output_format="org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
                    compressed=True,
                    serde_info=glue.CfnTable.SerdeInfoProperty(
                        serialization_library=JSON_SERDE,
                        # a line the SerDe cannot read is skipped, not a failed query
                        parameters={"ignore.malformed.json": "true"},
                    ),
                ),
            ),
        )
        table.node.add_dependency(self.database)
        return table
