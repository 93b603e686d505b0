"""The MLflow model registry: versions of ``tweetbot-charrnn`` and their aliases.

Every base model a DAG run trains becomes a version with the alias
``candidate``; ``champion`` moves to it only when it beats the current champion
on the same test split by more than the promotion margin: by default, when the
lower confidence bound of its gain does (``promotion_rule`` ``bound``; the
bound: ``training.model.comparison``), so that a gain the test split's sampling
could have made does not replace the model in service. Registration is
idempotent: a retried task finds the version it already made for that training
run, and two attempts racing (a task cleared while its first attempt still runs)
end with one version.
"""

from __future__ import annotations

import contextlib

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_random

from training import tracking
from training.core.config import PROMOTION_MARGIN, HyperParams
from training.core.records import Evaluation, Registration
from training.tracking import tags

MODEL_NAME = "tweetbot-charrnn"
CHAMPION, CANDIDATE = "champion", "candidate"
BOUND, POINT = "bound", "point"  # promotion rules (PipelineSettings.promotion_rule)


def model_uri(alias: str) -> str:
    return f"models:/{MODEL_NAME}@{alias}"


def version_by_alias(alias: str) -> ModelVersion | None:
    """The version ``alias`` points at; None only when the model or the alias does
    not exist. Any other error (the server unreachable, a permission refused) is
    raised: read as "no champion", it would promote an unvetted model."""
    client = tracking.client()
    try:
        model = client.get_registered_model(MODEL_NAME)
    except MlflowException as error:
        if error.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return None
        raise
    version = model.aliases.get(alias)
    return None if version is None else client.get_model_version(MODEL_NAME, str(version))


def champion() -> ModelVersion | None:
    return version_by_alias(CHAMPION)


def is_champion(version: ModelVersion) -> bool:
    """Whether ``version`` is the champion. Asked of the registry: a version from
    ``search_model_versions`` lists no aliases, and versions come back as str or int."""
    current = champion()
    return current is not None and str(current.version) == str(version.version)


def champion_params() -> HyperParams | None:
    """The hyper-parameters the champion was trained with, if there is one."""
    version = champion()
    if version is None:
        return None
    return HyperParams.from_text(tracking.client().get_run(version.run_id).data.params)


def register(run_id: str, model_uri: str, tags: dict[str, str]) -> ModelVersion:
    """The version for this training run, registered on first call."""
    client = tracking.client()
    with contextlib.suppress(MlflowException):  # it exists already
        client.create_registered_model(MODEL_NAME, description=(
            "Character-level LSTM tweet generator, trained by the tweetbot_training DAG."))
    existing = _versions_of(run_id)
    version = existing[0] if existing else _create_version(run_id, model_uri, tags)
    for key, value in tags.items():
        client.set_model_version_tag(MODEL_NAME, version.version, key, value)
    _set_alias(CANDIDATE, version.version)
    return version


def _versions_of(run_id: str) -> list[ModelVersion]:
    """The versions registered for a training run, oldest first."""
    versions = tracking.client().search_model_versions(
        f"name = '{MODEL_NAME}' and run_id = '{run_id}'")
    return sorted(versions, key=lambda v: int(v.version))


def _create_version(run_id: str, model_uri: str, tags: dict[str, str]) -> ModelVersion:
    # The client, not mlflow.register_model: that one prints its progress to stderr,
    # which a task log shows as errors.
    client = tracking.client()
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") \
        else None
    if model_id is not None:
        # MLflow marks a logged model READY once all its files are uploaded: a
        # version of one still PENDING (its upload cut off) would not load.
        status = client.get_logged_model(model_id).status
        if str(status) != "READY":
            raise RuntimeError(f"{model_uri} is {status}, not READY: its files are not all "
                               f"in the artifact store; retrain before registering")
    created = client.create_model_version(
        MODEL_NAME, source=model_uri, run_id=run_id, tags=tags, model_id=model_id)
    # Another attempt may have found none too and created one: the oldest stays,
    # each attempt deletes its own younger copy, and both return the oldest.
    oldest = _versions_of(run_id)[0]
    if oldest.version != created.version:
        client.delete_model_version(MODEL_NAME, created.version)
    return oldest


# Setting an alias is read-then-write in MLflow's store: two writers at once can
# collide on its unique key; the one retried finds the alias and moves it.
@retry(retry=retry_if_exception_type(MlflowException), stop=stop_after_attempt(3),
       wait=wait_random(0.1, 1.0), reraise=True)
def _set_alias(alias: str, version: str) -> None:
    tracking.client().set_registered_model_alias(MODEL_NAME, alias, version)


def promote_if_better(version: ModelVersion, test_loss: float,
                      champion_test_loss: float | None,
                      evaluated_against: int | None = None, margin: float = 0.0,
                      gain_lower_bound: float | None = None, rule: str = POINT) -> bool:
    """Move ``champion`` to ``version`` if it beats the current champion
    (``beats_champion``); whether it moved."""
    if not beats_champion(version, test_loss, champion_test_loss, evaluated_against, margin,
                          gain_lower_bound, rule):
        return False
    _set_alias(CHAMPION, version.version)
    return True


def beats_champion(version: ModelVersion, test_loss: float, champion_test_loss: float | None,
                   evaluated_against: int | None = None, margin: float = 0.0,
                   gain_lower_bound: float | None = None, rule: str = POINT) -> bool:
    """Whether ``version`` should be the champion: there is none, or its gain
    over the champion clears ``margin`` (a fraction) by ``rule`` (``beats``).

    ``evaluated_against``: the champion version ``champion_test_loss`` (and the
    bound) was measured for. Another run may have moved the champion since (two
    runs at once, or a promotion that waited for approval): then the new
    champion's own test loss decides, on the point estimate (nothing bounds the
    gain over a model this one was not scored beside), if it was measured on the
    same splits; if not, the two cannot be compared and nothing moves."""
    current = champion()
    if current is None:
        return True
    if str(current.version) == str(version.version):
        return False  # it is the champion already
    if int(current.version) != evaluated_against:
        same_splits = current.tags.get(tags.DATA_SHA256) == version.tags.get(tags.DATA_SHA256)
        if not same_splits or tags.TEST_LOSS not in current.tags:
            return False
        champion_test_loss = float(current.tags[tags.TEST_LOSS])
        gain_lower_bound = None
    return champion_test_loss is None or beats(test_loss, champion_test_loss, margin,
                                               gain_lower_bound, rule)


def beats(test_loss: float, champion_test_loss: float, margin: float,
          gain_lower_bound: float | None = None, rule: str = POINT) -> bool:
    """The gain ``1 - test_loss / champion_test_loss`` clears ``margin``: its
    lower bound does (``bound``, when there is one), or the gain itself (``point``,
    and ``bound`` with too few tweets for a bound)."""
    if rule == BOUND and gain_lower_bound is not None:
        return gain_lower_bound > margin
    return test_loss < champion_test_loss * (1 - margin)


def register_evaluated(run_id: str, model_uri: str, evaluation: Evaluation,
                       version_tags: dict[str, str], margin: float = PROMOTION_MARGIN,
                       require_approval: bool = False, rule: str = BOUND) -> Registration:
    """Register a tested model as a version (alias ``candidate``), with the
    evidence of its evaluation as tags, and move ``champion`` to it only if it
    beats the champion on the test split by ``margin`` (by ``rule``), and, with
    ``require_approval``, not before a person approves (``promote_approved``);
    says which, in words."""
    run_tags = tracking.client().get_run(run_id).data.tags
    code = {key: run_tags[key] for key in (tags.CODE_VERSION, tags.CODE_REVISION)
            if key in run_tags}  # the code that trained it, not this process's
    version = register(run_id, model_uri, {**code, **version_tags,
                                           **evidence_tags(evaluation, rule)})
    registration = Registration(
        run_id=run_id, version=int(version.version), champion=False,
        test_loss=evaluation.test_loss, verdict="",
        previous_champion=evaluation.champion_version,
        previous_test_loss=evaluation.champion_test_loss, gain=evaluation.gain,
        gain_lower_bound=evaluation.gain_lower_bound, gain_units=evaluation.gain_units,
        confidence=evaluation.confidence)
    return _decide(version, registration, margin, rule, wait_for_approval=require_approval)


def evidence_tags(evaluation: Evaluation, rule: str) -> dict[str, str]:
    """A version's test loss and, when it was scored beside a champion, the gain,
    its bound and how the bound was computed."""
    values = {tags.TEST_LOSS: f"{evaluation.test_loss:.6f}", tags.PROMOTION_RULE: rule,
              tags.TEST_SHA256: evaluation.test_sha256,
              tags.GAIN: _maybe(evaluation.gain, ".6f"),
              tags.GAIN_LOWER_BOUND: _maybe(evaluation.gain_lower_bound, ".6f"),
              tags.GAIN_UNIT: evaluation.gain_unit,
              tags.GAIN_UNITS: _maybe(evaluation.gain_units, "d"),
              tags.BOOTSTRAP_RESAMPLES: _maybe(evaluation.bootstrap_resamples, "d"),
              tags.BOOTSTRAP_SEED: _maybe(evaluation.bootstrap_seed, "d")}
    return {key: value for key, value in values.items() if value is not None}


def _maybe(value, form: str) -> str | None:
    return None if value is None else format(value, form)


def promote_approved(registration: Registration, margin: float,
                     rule: str = BOUND) -> Registration:
    """Move ``champion`` to an approved version, if it still beats the champion
    (another run may have promoted a better one while this waited)."""
    version = tracking.client().get_model_version(MODEL_NAME, str(registration.version))
    decided = _decide(version, registration.model_copy(update={"awaiting_approval": False}),
                      margin, rule, wait_for_approval=False)
    if decided.champion:
        return decided
    return decided.model_copy(update={"verdict": "approved, but " + decided.verdict})


def _decide(version: ModelVersion, registration: Registration, margin: float, rule: str,
            wait_for_approval: bool) -> Registration:
    """Promote ``version`` if it beats the champion it was tested against, or
    leave it waiting for approval; ``registration`` says which, and why."""
    if is_champion(version):  # a retried task: its first attempt promoted it
        return _promoted(registration, margin, rule)
    if not beats_champion(version, registration.test_loss, registration.previous_test_loss,
                          registration.previous_champion, margin,
                          registration.gain_lower_bound, rule):
        return registration.model_copy(update={"verdict": _why_not(registration, margin, rule)})
    if wait_for_approval:
        return registration.model_copy(update={"awaiting_approval": True, "verdict": (
            f"{comparison(registration, margin, rule)}: it stays candidate until approved")})
    _set_alias(CHAMPION, version.version)
    return _promoted(registration, margin, rule)


def _promoted(registration: Registration, margin: float, rule: str) -> Registration:
    said = comparison(registration, margin, rule)
    first = registration.previous_champion is None
    return registration.model_copy(update={
        "champion": True, "verdict": said if first else f"{said}: promoted"})


def comparison(registration: Registration, margin: float, rule: str) -> str:
    """``v7 is better than v6 by 2.1 % (95 % lower bound 1.4 %, margin 0.5 %)``:
    the version against the champion it was tested beside, in words."""
    version, previous = registration.version, registration.previous_champion
    if previous is None or registration.previous_test_loss is None:
        return f"v{version} is the first champion"
    gain = 1 - registration.test_loss / registration.previous_test_loss
    better = (f"v{version} is {'better' if gain > 0 else 'worse'} than v{previous} by "
              f"{_percent(abs(gain))}")
    if rule == POINT:
        return f"{better} (margin {_percent(margin)}, on the point estimate)"
    if registration.gain_lower_bound is None:
        return (f"{better} (too few tweets for a bound: {registration.gain_units or 0}, so "
                f"on the point estimate; margin {_percent(margin)})")
    return (f"{better} ({(registration.confidence or 0.95) * 100:.0f} % lower bound "
            f"{_percent(registration.gain_lower_bound)}, margin {_percent(margin)})")


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.1f} %".replace("-", "\N{MINUS SIGN}")


def _why_not(registration: Registration, margin: float, rule: str) -> str:
    """Why the version did not become the champion."""
    version, current = registration.version, champion()
    if current is None:  # the champion was taken away meanwhile: nothing to compare with
        return f"v{version} stays candidate; there is no champion to compare with"
    if int(current.version) != registration.previous_champion:
        return (f"v{version} stays candidate; champion v{current.version} was promoted by "
                f"another run meanwhile and is better, or was tested on other splits")
    said = comparison(registration, margin, rule)
    if registration.test_loss >= registration.previous_test_loss:
        return f"{said}: v{version} stays candidate"
    if rule == BOUND and registration.gain_lower_bound is not None:
        return f"{said}: the gain may be noise, v{version} stays candidate"
    return f"{said}: within the margin, v{version} stays candidate"


def version_with_tag(key: str, value: str) -> ModelVersion | None:
    """The newest version carrying tag ``key`` = ``value``."""
    versions = tracking.client().search_model_versions(
        f"name = '{MODEL_NAME}' and tags.`{key}` = '{value}'")
    return max(versions, key=lambda v: int(v.version), default=None)


def latest_version_with_tag(key: str) -> ModelVersion | None:
    """The newest version carrying tag ``key``, whatever its value."""
    versions = tracking.client().search_model_versions(f"name = '{MODEL_NAME}'")
    return max((v for v in versions if key in v.tags), key=lambda v: int(v.version),
               default=None)
