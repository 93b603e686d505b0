"""Where splits live: a local folder, or an S3 prefix fetched with boto3.

``s3://bucket/prefix`` holds ``train.txt``, ``validate.txt`` and ``test.txt``.
The endpoint and credentials come from the environment as boto3 reads them
(``AWS_ENDPOINT_URL`` for MinIO or a moto server, ``AWS_ACCESS_KEY_ID``, ...),
never from code or arguments.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from training.core import settings
from training.core.atomic import replacing
from training.core.errors import InputError
from training.data.splits import SPLIT_NAMES


def is_s3(location: str) -> bool:
    return str(location).startswith("s3://")


def checked_location(location: str, parameter: str) -> str:
    """``location`` if a run may use it: an ``s3://bucket/prefix``, or a folder
    (or file) under the data root once ``..`` and links are resolved; anything
    else is refused naming ``parameter``, before any work."""
    if is_s3(location):
        try:
            _bucket_and_key(location)
        except InputError as error:
            raise InputError(f"{parameter}: {error}") from None
        return location
    if "://" in location:
        raise InputError(f"{parameter}: {location}: only s3:// locations and local "
                         f"folders are supported")
    root = settings.data_root()
    if not Path(location).expanduser().resolve().is_relative_to(root):
        raise InputError(f"{parameter}: {location} is outside the data root {root}; "
                         f"use s3://, or set TWEETBOT_DATA_ROOT to a folder holding it")
    return location


def _bucket_and_key(location: str) -> tuple[str, str]:
    bucket, _, key = location[len("s3://"):].partition("/")
    if not bucket:
        raise InputError(f"{location}: expected s3://bucket/prefix")
    return bucket, key.strip("/")


def _client():
    import boto3

    return boto3.client("s3")


def split_location(location: str | Path, name: str) -> str:
    """Where split ``name`` of the splits at ``location`` is: a file or an S3 key."""
    location = str(location)
    if is_s3(location):
        bucket, prefix = _bucket_and_key(location)
        return f"s3://{bucket}/{_split_key(prefix, name)}"
    return str(Path(location) / f"{name}.txt")


def _split_key(prefix: str, name: str) -> str:
    return f"{prefix}/{name}.txt" if prefix else f"{name}.txt"


def _download(client, bucket: str, key: str, target: Path) -> None:
    try:
        with replacing(target) as partial:
            client.download_file(bucket, key, str(partial))
    except Exception as error:  # botocore raises many types; all mean "cannot read it"
        raise InputError(f"s3://{bucket}/{key}: cannot download ({error})") from None


def _cache_folder(kind: str, location: str) -> Path:
    folder = settings.state_dir() / kind / hashlib.sha256(location.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def local_splits(location: str | Path, names=SPLIT_NAMES) -> Path:
    """A local folder with the splits: ``location`` itself, or a fresh download."""
    location = str(location)
    if not is_s3(location):
        return Path(location)
    bucket, prefix = _bucket_and_key(location)
    folder = _cache_folder("splits-cache", location)
    client = _client()
    for name in names:
        _download(client, bucket, _split_key(prefix, name), folder / f"{name}.txt")
    return folder


def publish_splits(local_dir: Path, location: str, names=SPLIT_NAMES) -> None:
    """Copy split files to a folder or S3 prefix (what the prepare DAG publishes)."""
    if not is_s3(location):
        target = Path(location)
        target.mkdir(parents=True, exist_ok=True)
        for name in names:
            with replacing(target / f"{name}.txt") as partial:
                shutil.copyfile(Path(local_dir) / f"{name}.txt", partial)
        return
    bucket, prefix = _bucket_and_key(location)
    client = _client()
    for name in names:
        client.upload_file(str(Path(local_dir) / f"{name}.txt"), bucket,
                           _split_key(prefix, name))


def fetch_raw(location: str) -> Path:
    """A raw tweet file, local or ``s3://bucket/key``, as a local path."""
    if not is_s3(location):
        return Path(location)
    bucket, key = _bucket_and_key(location)
    target = _cache_folder("raw-cache", location) / Path(key).name
    _download(_client(), bucket, key, target)
    return target
