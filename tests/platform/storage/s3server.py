"""A real S3-compatible server on the loopback for tests: moto's server (`ThreadedMotoServer`) over HTTP, not AWS."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
REGION = "us-east-1"


@contextmanager
def s3_server() -> Iterator[str]:
    """The endpoint URL of a moto server on a free port, stopped afterwards."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=REGION, config=Config(s3={"addressing_style": "path"}), **CREDENTIALS
    )


def new_bucket(endpoint: str) -> str:
    bucket = f"caremesh-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=bucket)
    return bucket
