"""boto3 clients for the job's sinks: the real endpoints on AWS, the moto server locally."""

from __future__ import annotations

import boto3
from botocore.config import Config

# Standard retry mode backs off on throttling; the sinks add their own loop for partial failures.
_RETRIES = Config(retries={"max_attempts": 8, "mode": "standard"}, connect_timeout=5, read_timeout=30)


def client(service: str, region: str, endpoint: str = ""):  # noqa: ANN201 - boto3 clients are untyped
    """A client for ``service``; ``endpoint`` set only for local runs (dummy credentials then)."""
    if endpoint:
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=_RETRIES,
        )
    return boto3.client(service, region_name=region, config=_RETRIES)
