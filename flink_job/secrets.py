"""Secrets from AWS Secrets Manager, by ARN (never from the properties).

The runtime properties hold only a secret's ARN (today one: ``sinks``/``influxdb.auth_secret_arn``).
The value is fetched with boto3 (vendored in the zip's ``python_deps/``: MSF's Python does not
guarantee it); locally from the emulator at ``local.aws_endpoint``. The job reads it at start-up,
so an unreadable ARN stops start-up with an error naming the property, and the writers read it
again on their workers (and after a 401: the token is rotated).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flink_job.core.errors import ConfigError


@dataclass(frozen=True)
class Secret:
    """A secret's value; never shown by ``repr`` or ``str`` (logs, tracebacks)."""

    arn: str
    value: Any = field(repr=False)  # the parsed JSON object, or the raw string

    def __str__(self) -> str:
        return f"Secret({self.arn}, value hidden)"


def region_of(arn: str) -> str:
    """The region field of an ARN (arn:partition:service:region:account:...)."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 else ""


def read_secret(arn: str, *, group: str, key: str, endpoint: str = "", region: str = "") -> Secret:
    """GetSecretValue for ``arn``; a ConfigError naming ``group``/``key`` if it cannot be read."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    region = region_of(arn) or region
    if not region:
        raise ConfigError(group, key, f"no region in secret ARN {arn!r}")
    kwargs: dict[str, Any] = {
        "region_name": region,
        "config": Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=10),
    }
    if endpoint:  # local emulator: dummy credentials
        kwargs.update(endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing")
    try:
        # AWSCURRENT is the default; named, because moto's default does not follow a rotation
        client = boto3.client("secretsmanager", **kwargs)
        resp = client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise ConfigError(
            group, key, f"cannot read secret {arn}: {err.get('Code', '?')}: {err.get('Message', '')}"
        ) from None
    except BotoCoreError as exc:
        raise ConfigError(group, key, f"cannot read secret {arn}: {exc}") from None
    raw = resp.get("SecretString")
    if raw is None:
        raise ConfigError(group, key, f"secret {arn} has no SecretString (binary secrets are not supported)")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return Secret(arn=arn, value=value)


__all__ = ["Secret", "read_secret", "region_of"]
