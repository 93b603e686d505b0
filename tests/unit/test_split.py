import json

import pytest

from training.core.errors import InputError
from training.data.splits import SPLIT_NAMES as SPLITS
from training.split import main, split_file, split_of


def _read(out_dir, name):
    return (out_dir / f"{name}.txt").read_text(encoding="ascii").splitlines()


def _split_text(tmp_path, text: str):
    """Split ``text`` as a raw file; the report and every tweet written, sorted."""
    raw = tmp_path / "raw.txt"
    raw.write_text(text, encoding="utf-8")
    report = split_file(raw, tmp_path / "out")
    return report, sorted(t for name in SPLITS for t in _read(tmp_path / "out", name))


def test_csv_with_multiline_quoted_tweets(tmp_path):
    report, tweets = _split_text(
        tmp_path, 'text\n"one, with a comma"\n"two\nlines"\nplain\n"say ""hi"""\n')
    assert tweets == sorted(["one, with a comma", "two lines", "plain", 'say "hi"'])
    assert report.tweets_read == 4


def test_one_tweet_per_line_dedup_and_normalisation(tmp_path):
    report, tweets = _split_text(
        tmp_path, "first tweet\nsecond \u201cquoted\u201d &amp; more\nfirst tweet\n\n")
    assert tweets == ['first tweet', 'second "quoted" & more']
    assert report.duplicates_dropped == 1 and report.empty_dropped == 1
    manifest = json.loads((tmp_path / "out" / "split.json").read_text())
    assert manifest["tweets_read"] == 4 and manifest["unknown_rate"] == 0


def test_assignment_is_stable_when_the_raw_file_grows(tmp_path):
    tweets = [f"tweet number {i} about bread" for i in range(400)]
    (tmp_path / "night1.txt").write_text("\n".join(tweets[:200]) + "\n")
    (tmp_path / "night2.txt").write_text("\n".join(reversed(tweets)) + "\n")
    split_file(tmp_path / "night1.txt", tmp_path / "a")
    split_file(tmp_path / "night2.txt", tmp_path / "b")
    for name in SPLITS:
        assert set(_read(tmp_path / "a", name)) <= set(_read(tmp_path / "b", name))
    assert all(split_of(t) == name for name in SPLITS for t in _read(tmp_path / "b", name))


def test_proportions_are_close_to_80_10_10(shared_corpus, tmp_path):
    report = split_file(shared_corpus, tmp_path / "out")
    total = sum(report.tweets.values())
    assert report.tweets_read == 3229  # quoted tweets parsed across lines
    assert 0.76 < report.tweets["train"] / total < 0.84
    assert 0.07 < report.tweets["validate"] / total < 0.13
    assert 0 < report.unknown_rate < 0.01
    text = (tmp_path / "out" / "train.txt").read_bytes()
    assert max(text) < 128  # splits are pure ASCII: one byte, one character


def test_non_utf8_fails_with_one_line_and_writes_nothing(tmp_path, capsys):
    raw = tmp_path / "raw.txt"
    raw.write_bytes(b"good tweet\nbad \xff tweet\n")
    assert main([str(raw), str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "not valid UTF-8 on line 2 (byte 5 of the line)" in error
    assert str(raw) in error
    assert not (tmp_path / "out").exists()


def test_failure_leaves_existing_splits_untouched(tmp_path):
    out = tmp_path / "out"
    (tmp_path / "good.txt").write_text("a fine tweet\nanother one\n")
    split_file(tmp_path / "good.txt", out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(InputError, match="no tweets found"):
        split_file(tmp_path / "empty.txt", out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_missing_file(tmp_path, capsys):
    assert main([str(tmp_path / "nope.txt"), str(tmp_path / "out")]) == 2
    assert "nope.txt: no such file" in capsys.readouterr().err
