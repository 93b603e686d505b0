"""The MLflow model registry: versions of ``tweetbot-charrnn`` and their aliases.

Every base model a DAG run trains becomes a version with the alias
``candidate``; ``champion`` moves to it only when it beats the current champion
on the same test split. Registration is idempotent: a retried task finds the
version it already made for that training run.
"""

from __future__ import annotations

import contextlib

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from training import tracking
from training.config import HyperParams

MODEL_NAME = "tweetbot-charrnn"
CHAMPION, CANDIDATE = "champion", "candidate"


def model_uri(alias: str) -> str:
    return f"models:/{MODEL_NAME}@{alias}"


def version_by_alias(alias: str) -> ModelVersion | None:
    try:
        return tracking.client().get_model_version_by_alias(MODEL_NAME, alias)
    except MlflowException:
        return None


def champion() -> ModelVersion | None:
    return version_by_alias(CHAMPION)


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
    existing = client.search_model_versions(f"name = '{MODEL_NAME}' and run_id = '{run_id}'")
    # The client, not mlflow.register_model: that one prints its progress to stderr,
    # which a task log shows as errors.
    version = existing[0] if existing else client.create_model_version(
        MODEL_NAME, source=model_uri, run_id=run_id, tags=tags,
        model_id=model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-")
        else None)
    for key, value in tags.items():
        client.set_model_version_tag(MODEL_NAME, version.version, key, value)
    client.set_registered_model_alias(MODEL_NAME, CANDIDATE, version.version)
    return version


def promote_if_better(version: ModelVersion, test_loss: float,
                      champion_test_loss: float | None) -> bool:
    """Move ``champion`` to ``version`` if there is none or it is beaten."""
    if champion_test_loss is not None and not test_loss < champion_test_loss:
        return False
    tracking.client().set_registered_model_alias(MODEL_NAME, CHAMPION, version.version)
    return True
