"""One-shot set-up the stack's definition runs before its services: the
databases on the PostgreSQL server and the bucket on the S3 endpoint.

Both read their targets from the environment the definition gives them, both
are idempotent (a second ``up`` finds them), and both speak only the standard
clients (psycopg2 through SQLAlchemy's URL, boto3 with an endpoint URL).
"""

from __future__ import annotations

import os

from training.core.errors import InputError


def _connect(server_url: str):
    """A connection to the server's maintenance database, outside transactions
    (CREATE and DROP DATABASE cannot run in one)."""
    import psycopg2
    from sqlalchemy.engine import make_url

    server = make_url(server_url + "/postgres")
    connection = psycopg2.connect(host=server.host, port=server.port or 5432,
                                  user=server.username, password=server.password,
                                  dbname=server.database)
    connection.autocommit = True
    return connection


def create_databases() -> list[str]:
    """Create each of ``TWEETBOT_STACK_DATABASES`` on ``TWEETBOT_STACK_POSTGRES``."""
    from psycopg2 import sql

    connection = _connect(os.environ["TWEETBOT_STACK_POSTGRES"])
    created = []
    with connection.cursor() as cursor:
        for name in os.environ["TWEETBOT_STACK_DATABASES"].split(","):
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cursor.fetchone() is None:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                created.append(name)
    connection.close()
    return created


def drop_databases(server_url: str, names: list[str]) -> None:
    """Drop the stack's databases (``down --purge``), closing their connections."""
    from psycopg2 import sql

    connection = _connect(server_url)
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
    connection.close()


def create_bucket() -> bool:
    """Create ``TWEETBOT_STACK_BUCKET`` unless it exists; True if it was made."""
    import boto3
    from botocore.exceptions import ClientError

    bucket = os.environ["TWEETBOT_STACK_BUCKET"]
    client = boto3.client("s3")
    try:
        client.head_bucket(Bucket=bucket)
        return False
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket"):
            raise InputError(f"s3://{bucket}: cannot reach it ({error})") from None
    client.create_bucket(Bucket=bucket)
    return True
