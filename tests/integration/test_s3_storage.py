"""s3:// locations against a real S3 endpoint: moto's server on a loopback port
(no MinIO binary can be installed here; moto speaks the same S3 HTTP API)."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from training.core.config import HyperParams
from training.core.errors import InputError
from training.data import storage
from training.data.sample_corpus import write_sample_corpus
from training.data.splits import check_splits
from training.data.vocab import Vocabulary
from training.split import split_and_publish


@pytest.fixture(scope="module")
def s3_endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"),
                               "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def bucket(s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = f"tweets-{os.getpid()}-{time.monotonic_ns()}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name


def test_prepare_publishes_to_s3_and_training_reads_it_back(bucket, tmp_path):
    raw = write_sample_corpus(tmp_path / "raw.csv", num_tweets=400)
    boto3.client("s3").upload_file(str(raw), bucket, "raw/tweets.csv")
    published = split_and_publish(f"s3://{bucket}/raw/tweets.csv", f"s3://{bucket}/splits/v1")
    assert sum(published["tweets"].values()) > 300
    keys = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket)["Contents"]}
    assert {"splits/v1/train.txt", "splits/v1/validate.txt", "splits/v1/test.txt"} <= keys

    local = storage.local_splits(f"s3://{bucket}/splits/v1")
    infos = check_splits(local, HyperParams(batch_size=4, seq_len=8), Vocabulary.default(),
                         names=("train", "validate", "test"))
    assert infos["train"].num_bytes > 10_000
    assert not list(local.glob(".partial-*"))


def test_a_missing_split_names_the_s3_key(bucket):
    with pytest.raises(InputError) as caught:
        storage.local_splits(f"s3://{bucket}/nothing-here")
    message = str(caught.value)
    assert message.startswith(f"s3://{bucket}/nothing-here/train.txt: cannot download")
    assert "\n" not in message
