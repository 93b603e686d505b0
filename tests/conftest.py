"""Shared fixtures: an isolated state folder per test, and small real data."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from training.core.config import HyperParams
from training.data.sample_corpus import write_sample_corpus
from training.split import split_file

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path("shared") / "data" / "tweets" / "realdonaldtrump.txt"


def _shared_corpus() -> Path:
    """The shared corpus beside this checkout, or beside the checkout a CI clone
    was made from (a clean clone lands in a folder of its own)."""
    candidates = [REPO.parent / CORPUS]
    origin = subprocess.run(["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
                            capture_output=True, text=True).stdout.strip()
    if origin and Path(origin).is_dir():
        candidates.append(Path(origin).resolve().parent / CORPUS)
    return next((path for path in candidates if path.is_file()), candidates[0])


SHARED_CORPUS = _shared_corpus()
ARTIFACTS = Path(os.environ.get("TWEETBOT_TEST_ARTIFACTS", REPO / ".test-artifacts"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As root, without a display, and without reaching for Google's services.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]

# Quiet TensorFlow's start-up banner in test output; set before it is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True)
def isolated_state(tmp_path, tmp_path_factory, monkeypatch):
    """Every test gets its own embedded MLflow store and state folder; its local
    data (splits, raw tweets) lives in pytest's temporary folders."""
    home = tmp_path / "tweetbot-home"
    monkeypatch.setenv("TWEETBOT_HOME", str(home))
    monkeypatch.setenv("TWEETBOT_DATA_ROOT", str(tmp_path_factory.getbasetemp()))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return home


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    if not SHARED_CORPUS.is_file():
        pytest.skip(f"{SHARED_CORPUS} not present (the shared tweet corpus)")
    return SHARED_CORPUS


@pytest.fixture(scope="session")
def sample_splits(tmp_path_factory) -> Path:
    """Splits of the project's own sample corpus (about 300 KB of tweets)."""
    root = tmp_path_factory.mktemp("sample")
    raw = write_sample_corpus(root / "raw.csv", num_tweets=1500, seed=3)
    split_file(raw, root / "splits")
    return root / "splits"


@pytest.fixture(scope="session")
def shared_splits(tmp_path_factory, shared_corpus) -> Path:
    out = tmp_path_factory.mktemp("shared") / "splits"
    split_file(shared_corpus, out)
    return out


@pytest.fixture
def tiny_hyperparams() -> HyperParams:
    return HyperParams(batch_size=8, seq_len=16, embedding_size=8, rnn_size=16,
                       num_layers=1, drop_rate=0.0, optimizer="adam",
                       learning_rate=0.01)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where tests leave what a person looks at afterwards (screenshots, logs)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, driven by Playwright (which downloads no browser).

    One per module, not per session: Playwright's sync API keeps an event loop
    running in the main thread while it is open, and the tests that later call
    ``asyncio.run`` (as Airflow's triggerer does) must not find one there."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
