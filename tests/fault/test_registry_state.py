"""The registry never moves by accident: a version that lost still counts as
trained on its splits, and an MLflow error is an error, never "no champion"
(which would promote whatever was trained next)."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import mlflow
import pytest
from mlflow.exceptions import MlflowException

from training import tracking
from training.core.records import Evaluation
from training.pipeline import steps
from training.pipeline.run_key import TAG_PREFIX, RunKey
from training.tracking import registry, tags
from training.tracking.search_store import SearchStore

pytestmark = pytest.mark.fault

TINY = {"num_trials": 1, "parallel": 1, "max_epochs": 1, "final_epochs": 1,
        "space_overrides": {"batch_size": 8, "seq_len": 16}}


def registered(data_sha256: str, *, champion: bool, key: RunKey | None = None):
    """A version as `register` makes it, for a training run on those splits
    (with that run key)."""
    tracking.configure()
    with mlflow.start_run() as run:
        pass
    version = registry.register(run.info.run_id, f"runs:/{run.info.run_id}/model",
                                {tags.DATA_SHA256: data_sha256, **(key.tags() if key else {})})
    if champion:
        assert registry.promote_if_better(version, test_loss=1.0, champion_test_loss=None)
    return version


def test_a_candidate_that_lost_is_not_trained_again_on_the_same_splits(sample_splits):
    params = {**TINY, "data_location": str(sample_splits)}
    first = steps.validate_splits(params, "night-1")
    champion = registered("sha256-of-older-splits", champion=True)
    # Trained with all the same inputs, and lost.
    registered(first.data_sha256, champion=False, key=first.run_key)
    assert registry.champion().version == champion.version
    assert steps.validate_splits(params, "night-2") is None
    forced = steps.validate_splits({**params, "force": True}, "night-3")
    assert forced is not None and forced.data_sha256 == first.data_sha256


def test_a_run_is_skipped_only_when_nothing_it_depends_on_changed(sample_splits, capsys,
                                                                  monkeypatch):
    params = {**TINY, "data_location": str(sample_splits)}
    monkeypatch.setenv("TWEETBOT_CODE_REVISION", "image-1")
    first = steps.validate_splits(params, "night-1")
    assert "no earlier version records what it was trained with" in capsys.readouterr().out
    registered(first.data_sha256, champion=True, key=first.run_key)
    assert steps.validate_splits({**params, "promotion_margin": 0.1}, "night-2") is None
    assert "nothing changed since v1 (champion) was trained" in capsys.readouterr().out

    changes = {
        "the run parameters": ({**params, "max_epochs": 2}, {}),
        "the search space": ({**params, "space_overrides": {"batch_size": 8, "seq_len": 8}},
                             {}),
        "the code (0.1.0@image-1 -> 0.1.0@image-2)": (params,
                                                      {"TWEETBOT_CODE_REVISION": "image-2"}),
    }
    for change, (changed, environment) in changes.items():
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        run = steps.validate_splits(changed, "night-3")
        assert run is not None, change
        assert f"training: since v1, {change} changed" in capsys.readouterr().out
        monkeypatch.setenv("TWEETBOT_CODE_REVISION", "image-1")
    # The key is recorded on the search's run, part by part.
    run = steps.validate_splits({**params, "max_epochs": 2}, "night-4")
    steps.start_search(run)
    search_tags = SearchStore(run.search_id).find_parent().data.tags
    assert search_tags[TAG_PREFIX] == run.run_key.digest
    assert search_tags[f"{TAG_PREFIX}.code"] == "0.1.0@image-1"
    assert search_tags[f"{TAG_PREFIX}.data"] == first.data_sha256


def test_no_model_and_no_alias_mean_no_champion():
    assert registry.champion() is None  # no registered model yet
    registered("sha256-of-some-splits", champion=False)
    assert registry.champion() is None  # a model, but no champion alias
    assert registry.version_by_alias(registry.CANDIDATE) is not None


def test_an_unreachable_registry_is_an_error_never_no_champion(monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    with pytest.raises(MlflowException):
        registry.champion()


def test_two_register_calls_racing_make_one_version(monkeypatch):
    """A retried register racing the first attempt (a task marked failed and
    cleared while it ran): both find no version for the run, both create one."""
    tracking.configure()
    with mlflow.start_run() as run:
        pass
    both_searched = threading.Barrier(2, timeout=60)
    real_client = tracking.client

    class RacingClient:
        def __init__(self):
            self.client = real_client()

        def __getattr__(self, name):
            return getattr(self.client, name)

        def create_model_version(self, *args, **kwargs):
            both_searched.wait()  # neither creates before both found none
            return self.client.create_model_version(*args, **kwargs)

    monkeypatch.setattr(tracking, "client", RacingClient)
    model_uri = f"runs:/{run.info.run_id}/model"
    with ThreadPoolExecutor(2) as pool:
        versions = list(pool.map(
            lambda attempt: registry.register(run.info.run_id, model_uri,
                                              {tags.DAG_RUN_ID: f"attempt-{attempt}"}),
            range(2)))
    kept = real_client().search_model_versions(f"name = '{registry.MODEL_NAME}'")
    assert [str(v.version) for v in kept] == ["1"]
    assert {str(v.version) for v in versions} == {"1"}
    assert str(registry.version_by_alias(registry.CANDIDATE).version) == "1"


def test_a_model_whose_upload_did_not_finish_is_not_registered():
    experiment_id = tracking.configure()
    client = tracking.client()
    with mlflow.start_run() as run:
        pass
    pending = client.create_logged_model(experiment_id, source_run_id=run.info.run_id,
                                         name="model")  # its files never finished
    with pytest.raises(RuntimeError, match="is PENDING, not READY"):
        registry.register(run.info.run_id, f"models:/{pending.model_id}", {})
    assert client.search_model_versions(f"name = '{registry.MODEL_NAME}'") == []


def test_a_champion_promoted_by_another_run_meanwhile_is_not_clobbered():
    """Two runs at once: both evaluated against no champion (or the same one);
    the first promotes its better model; the second, worse, must not take over."""
    first = registered("sha256-of-tonights-splits", champion=False)
    tracking.client().set_model_version_tag(registry.MODEL_NAME, first.version,
                                            tags.TEST_LOSS, "1.500000")
    assert registry.promote_if_better(first, 1.5, None, evaluated_against=None)
    second = registered("sha256-of-tonights-splits", champion=False)
    assert not registry.promote_if_better(second, 1.8, None, evaluated_against=None)
    assert str(registry.champion().version) == str(first.version)
    third = registered("sha256-of-tonights-splits", champion=False)
    assert registry.promote_if_better(third, 1.2, None, evaluated_against=None)  # better
    assert str(registry.champion().version) == str(third.version)


def test_a_champion_from_other_splits_meanwhile_is_not_compared_with():
    first = registered("sha256-of-new-splits", champion=True)
    second = registered("sha256-of-old-splits", champion=False)
    assert not registry.promote_if_better(second, 0.1, None, evaluated_against=None)
    assert str(registry.champion().version) == str(first.version)


def test_the_champion_moves_only_when_the_gains_lower_bound_clears_the_margin():
    first = registered("sha256-of-splits", champion=True)
    evaluation = Evaluation(run_id=first.run_id, test_loss=1.495, test_bits_per_char=2.2,
                            champion_version=int(first.version), champion_test_loss=1.5,
                            test_sha256="sha256-of-test", gain=1 - 1.495 / 1.5,
                            gain_lower_bound=-0.002, gain_units=349, gain_unit="tweet",
                            bootstrap_resamples=10_000, bootstrap_seed=0, confidence=0.95)

    def candidate(rule: str, margin: float = 0.005, **update):
        version = registered("sha256-of-splits", champion=False)
        return version, registry.register_evaluated(
            version.run_id, version.source,
            evaluation.model_copy(update={"run_id": version.run_id, **update}), {},
            margin=margin, rule=rule)

    noise, within = candidate("bound")
    assert not within.champion
    assert within.verdict == (
        f"v{within.version} is better than v{first.version} by 0.3 % (95 % lower bound "
        f"\N{MINUS SIGN}0.2 %, margin 0.5 %): the gain may be noise, v{within.version} "
        f"stays candidate")
    # The evidence is on the version, before any approval.
    held = tracking.client().get_model_version(registry.MODEL_NAME, noise.version).tags
    assert {key: held[key] for key in (
        tags.GAIN, tags.GAIN_LOWER_BOUND, tags.GAIN_UNIT, tags.GAIN_UNITS,
        tags.BOOTSTRAP_RESAMPLES, tags.BOOTSTRAP_SEED, tags.TEST_SHA256,
        tags.PROMOTION_RULE)} == {
        tags.GAIN: "0.003333", tags.GAIN_LOWER_BOUND: "-0.002000", tags.GAIN_UNIT: "tweet",
        tags.GAIN_UNITS: "349", tags.BOOTSTRAP_RESAMPLES: "10000", tags.BOOTSTRAP_SEED: "0",
        tags.TEST_SHA256: "sha256-of-test", tags.PROMOTION_RULE: "bound"}
    _, clear = candidate("bound", test_loss=1.47, gain=0.02, gain_lower_bound=0.012)
    assert clear.champion and clear.verdict == (
        f"v{clear.version} is better than v{first.version} by 2.0 % (95 % lower bound "
        f"1.2 %, margin 0.5 %): promoted")


def test_the_point_rule_and_a_split_too_small_for_a_bound_decide_on_the_gain():
    first = registered("sha256-of-splits", champion=True)
    evaluation = Evaluation(run_id=first.run_id, test_loss=1.495, test_bits_per_char=2.2,
                            champion_version=int(first.version), champion_test_loss=1.5,
                            gain=1 - 1.495 / 1.5, gain_lower_bound=0.004, gain_units=400)

    def candidate(rule: str, margin: float, **update):
        version = registered("sha256-of-splits", champion=False)
        return registry.register_evaluated(
            version.run_id, version.source,
            evaluation.model_copy(update={"run_id": version.run_id, **update}), {},
            margin=margin, rule=rule)

    # 0.33 % lower: not enough for a 0.5 % margin, enough for none.
    within = candidate("point", margin=0.005)
    assert not within.champion
    assert within.verdict == (
        f"v{within.version} is better than v{first.version} by 0.3 % (margin 0.5 %, on the "
        f"point estimate): within the margin, v{within.version} stays candidate")
    assert candidate("point", margin=0.0, test_loss=1.4949).champion
    # Twelve tweets give no bound: the gain itself decides, and the verdict says so.
    few = candidate("bound", margin=0.0, test_loss=1.4, gain_lower_bound=None, gain_units=12)
    assert few.champion and "too few tweets for a bound: 12, so on the point estimate" in (
        few.verdict)


def awaiting_approval():
    """A champion, and a version with test loss 1.2 against its 1.5 registered
    by a run that requires approval: (champion, version, registration)."""
    first = registered("sha256-of-splits", champion=True)
    version = registered("sha256-of-splits", champion=False)
    evaluation = Evaluation(run_id=version.run_id, test_loss=1.2, test_bits_per_char=1.7,
                            champion_version=int(first.version), champion_test_loss=1.5,
                            gain=0.2, gain_lower_bound=0.15, gain_units=349,
                            confidence=0.95)
    waiting = registry.register_evaluated(version.run_id, version.source, evaluation, {},
                                          margin=0.005, require_approval=True)
    return first, version, waiting


def test_a_version_awaiting_approval_moves_only_once_approved():
    first, version, waiting = awaiting_approval()
    assert waiting.awaiting_approval and not waiting.champion
    assert waiting.verdict == (f"v{version.version} is better than v{first.version} by "
                               f"20.0 % (95 % lower bound 15.0 %, margin 0.5 %): it stays "
                               f"candidate until approved")
    assert str(registry.champion().version) == str(first.version)
    assert str(registry.version_by_alias(registry.CANDIDATE).version) == str(version.version)
    promoted = registry.promote_approved(waiting, margin=0.005)
    assert promoted.champion and not promoted.awaiting_approval
    assert str(registry.champion().version) == str(version.version)
    # A retried promote, or register, finds it promoted already and says so.
    assert registry.promote_approved(waiting, margin=0.005).champion


def test_an_approval_after_a_better_champion_arrived_moves_nothing():
    first, version, waiting = awaiting_approval()
    better = registered("sha256-of-splits", champion=False)
    tracking.client().set_model_version_tag(registry.MODEL_NAME, better.version,
                                            tags.TEST_LOSS, "1.000000")
    assert registry.promote_if_better(better, 1.0, 1.5, evaluated_against=int(first.version))
    late = registry.promote_approved(waiting, margin=0.005)
    assert not late.champion
    assert late.verdict.startswith(f"approved, but v{version.version} stays candidate; "
                                   f"champion v{better.version} was promoted by another run")
    assert str(registry.champion().version) == str(better.version)
