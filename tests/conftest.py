"""Shared fixtures: an isolated state folder per test, and small real data."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from training.config import HyperParams
from training.sample_corpus import write_sample_corpus
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
