"""Where a run reads and publishes data comes from whoever triggers it: only
s3:// and folders under the data root are accepted, refused naming the
parameter before anything runs or is written."""

from __future__ import annotations

import pytest

from training import split
from training.core.errors import InputError
from training.pipeline import steps
from training.tracking.search_store import SearchStore

pytestmark = pytest.mark.fault

TINY = {"num_trials": 1, "parallel": 1, "max_epochs": 1, "final_epochs": 1,
        "space_overrides": {"batch_size": 8, "seq_len": 16}}


@pytest.mark.parametrize("location, refusal", [
    ("ftp://example.com/splits", "only s3:// locations and local folders"),
    ("file:///etc", "only s3:// locations and local folders"),
    ("{root}/../../../etc", "is outside the data root"),
    ("/etc", "is outside the data root"),
    ("s3:///no-bucket", "expected s3://bucket/prefix"),
])
def test_a_data_location_outside_the_root_is_refused(tmp_path, monkeypatch, location,
                                                     refusal):
    monkeypatch.setenv("TWEETBOT_DATA_ROOT", str(tmp_path))
    location = location.format(root=tmp_path)
    with pytest.raises(InputError, match=rf"^data_location: .*{refusal}"):
        steps.validate_splits({**TINY, "data_location": location}, "run-1")
    assert SearchStore("run-1").find_parent() is None


def test_a_link_out_of_the_root_is_refused(tmp_path, monkeypatch, sample_splits):
    root = tmp_path / "data"
    root.mkdir()
    (root / "splits").symlink_to(sample_splits)
    monkeypatch.setenv("TWEETBOT_DATA_ROOT", str(root))
    with pytest.raises(InputError, match="is outside the data root"):
        steps.validate_splits({**TINY, "data_location": str(root / "splits")}, "run-1")
    monkeypatch.setenv("TWEETBOT_DATA_ROOT", str(sample_splits.parent))
    assert steps.validate_splits({**TINY, "data_location": str(root / "splits")}, "run-1")


def test_the_prepare_dag_neither_reads_nor_writes_outside_the_root(tmp_path, monkeypatch):
    monkeypatch.setenv("TWEETBOT_DATA_ROOT", str(tmp_path / "data"))
    with pytest.raises(InputError, match="^raw_location: /etc/passwd is outside"):
        split.split_and_publish("/etc/passwd", str(tmp_path / "data" / "splits"))
    with pytest.raises(InputError, match="^splits_location: .* is outside"):
        split.split_and_publish(str(tmp_path / "data" / "raw.csv"), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
