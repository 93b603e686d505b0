"""The stack again, with the CeleryExecutor: a CPU worker and two GPU-queue
workers on this machine's Redis, each with its own TWEETBOT_HOME, working and temp
folders, standing in for three machines. The plugins folder adds a listener that
empties a worker's folders as each task starts there (``wipe_between_tasks``).
Started by the project's launcher like the LocalExecutor stack, which is down
while this package's tests run (each stack is package-scoped)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from training.data.sample_corpus import write_sample_corpus
from training.pipeline.run_config import GPU_QUEUE
from training.split import split_file
from training.stack.definition import Worker

from ..stack_clients import StackClients, started_stack

REPO = Path(__file__).resolve().parents[3]
WORKERS = (Worker(name="cpu", queues=("default",), concurrency=1),
           Worker(name="gpu-1", queues=(GPU_QUEUE,)),
           Worker(name="gpu-2", queues=(GPU_QUEUE,)))
# Short, so that losing a worker shows within the test: a task whose worker
# stops heartbeating fails after HEARTBEAT_TIMEOUT s ([scheduler]
# task_instance_heartbeat_timeout) and is retried RETRY_DELAY s later ([core]
# default_task_retry_delay).
HEARTBEAT_TIMEOUT, RETRY_DELAY = 30, 5


@pytest.fixture(scope="package")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("celery-stack")
    plugins = home / "plugins"
    plugins.mkdir()
    for plugin in [*(REPO / "plugins").glob("*.py"),
                   Path(__file__).with_name("wipe_between_tasks.py")]:
        shutil.copy(plugin, plugins)
    with started_stack(home, executor="CeleryExecutor", workers=WORKERS,
                       plugins_folder=str(plugins), heartbeat_timeout=HEARTBEAT_TIMEOUT,
                       retry_delay=RETRY_DELAY) as started:
        yield started


@pytest.fixture(scope="package")
def clients(stack) -> StackClients:
    """This package's, on its own stack (a package fixture is cached per package)."""
    return StackClients(stack)


@pytest.fixture(scope="package")
def splits_in_s3(clients, tmp_path_factory) -> str:
    """The sample corpus split here and uploaded, as a prepare run would publish it."""
    folder = tmp_path_factory.mktemp("celery-splits")
    split_file(write_sample_corpus(folder / "tweets.csv", num_tweets=1200, seed=11),
               folder / "splits")
    for path in (folder / "splits").glob("*.txt"):
        clients.s3().upload_file(str(path), clients.bucket, f"celery/{path.name}")
    return f"s3://{clients.bucket}/celery"
