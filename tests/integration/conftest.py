"""The production profile against the machine's services, with databases of its own per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg2
import pytest
import redis


@pytest.fixture
def production(make_settings, s3_endpoint: str, s3_bucket: str, postgres_url: str, redis_url: str):  # type: ignore[no-untyped-def]
    """Production settings with unique database names; the databases are dropped afterwards."""
    suffix = uuid.uuid4().hex[:8]
    settings = make_settings(
        profile="production",
        database_url=postgres_url,
        redis_url=redis_url,
        s3_endpoint_url=s3_endpoint,
        s3_bucket=s3_bucket,
        airflow_database=f"t_airflow_{suffix}",
        mlflow_database=f"t_mlflow_{suffix}",
        feast_database=f"t_feast_{suffix}",
    )
    yield settings
    connection = psycopg2.connect(f"{postgres_url}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        for name in (settings.airflow_database, settings.mlflow_database, settings.feast_database):
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A unique Redis key prefix; every key under it is deleted afterwards."""
    value = f"it-{uuid.uuid4().hex[:10]}"
    yield value
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{value}:*", count=1000):
        client.delete(key)
    client.close()
