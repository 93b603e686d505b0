"""Where splits live: a local folder, or an S3 prefix fetched with boto3.

``s3://bucket/prefix`` holds ``train.txt``, ``validate.txt`` and ``test.txt``.
The endpoint and credentials come from the environment as boto3 reads them
(``AWS_ENDPOINT_URL`` for MinIO or a moto server, ``AWS_ACCESS_KEY_ID``, ...),
never from code or arguments.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from training import settings
from training.errors import InputError

SPLIT_NAMES = ("train", "validate", "test")


def is_s3(location: str) -> bool:
    return str(location).startswith("s3://")


def _bucket_and_prefix(location: str) -> tuple[str, str]:
    bucket, _, prefix = location[len("s3://"):].partition("/")
    if not bucket:
        raise InputError(f"{location}: expected s3://bucket/prefix")
    return bucket, prefix.strip("/")


def _client():
    import boto3

    return boto3.client("s3")


def local_splits(location: str | Path, names=SPLIT_NAMES) -> Path:
    """A local folder with the splits: ``location`` itself, or a fresh download."""
    location = str(location)
    if not is_s3(location):
        return Path(location)
    bucket, prefix = _bucket_and_prefix(location)
    folder = (settings.state_dir() / "splits-cache"
              / hashlib.sha256(location.encode()).hexdigest()[:16])
    folder.mkdir(parents=True, exist_ok=True)
    client = _client()
    for name in names:
        key = f"{prefix}/{name}.txt" if prefix else f"{name}.txt"
        partial = folder / f".{name}.txt.partial"
        try:
            client.download_file(bucket, key, str(partial))
        except Exception as error:  # botocore raises many types; all mean "cannot read it"
            partial.unlink(missing_ok=True)
            raise InputError(f"s3://{bucket}/{key}: cannot download ({error})") from None
        os.replace(partial, folder / f"{name}.txt")
    return folder


def publish_splits(local_dir: Path, location: str, names=SPLIT_NAMES) -> None:
    """Copy split files to a folder or S3 prefix (what the prepare DAG publishes)."""
    if not is_s3(location):
        target = Path(location)
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            data = (Path(local_dir) / f"{name}.txt").read_bytes()
            partial = target / f".{name}.txt.partial"
            partial.write_bytes(data)
            os.replace(partial, target / f"{name}.txt")
        return
    bucket, prefix = _bucket_and_prefix(location)
    client = _client()
    for name in names:
        key = f"{prefix}/{name}.txt" if prefix else f"{name}.txt"
        client.upload_file(str(Path(local_dir) / f"{name}.txt"), bucket, key)


def fetch_raw(location: str) -> Path:
    """A raw tweet file, local or ``s3://bucket/key``, as a local path."""
    if not is_s3(location):
        return Path(location)
    bucket, key = _bucket_and_prefix(location)
    folder = settings.state_dir() / "raw-cache"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{hashlib.sha256(location.encode()).hexdigest()[:16]}-{Path(key).name}"
    try:
        _client().download_file(bucket, key, str(target))
    except Exception as error:
        raise InputError(f"{location}: cannot download ({error})") from None
    return target
