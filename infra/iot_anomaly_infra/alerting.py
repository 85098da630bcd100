"""SNS topics: anomaly alerts (published by the job) and operational alarms (CloudWatch)."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from .config import DeploymentConfig


class AlertTopics(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, cfg: DeploymentConfig, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.alerts = self._topic("Alerts", cfg.name("alerts"), "IoT anomaly alerts", key, cfg.alert_emails)
        self.operations = self._topic(
            "Operations",
            cfg.name("operations"),
            "IoT anomaly pipeline operational alarms",
            key,
            cfg.ops_emails,
        )

    def _topic(
        self, construct_id: str, name: str, display: str, key: kms.IKey, emails: list[str]
    ) -> sns.Topic:
        topic = sns.Topic(
            self,
            construct_id,
            topic_name=name,
            display_name=display,
            master_key=key,
            enforce_ssl=True,
        )
        for email in emails:
            topic.add_subscription(subscriptions.EmailSubscription(email))
        return topic
