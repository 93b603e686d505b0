"""What a DAG run works on, as its first step (``validate_splits``) found it."""

from __future__ import annotations

from training.core.config import FitSettings, Frozen
from training.core.records import Tracking
from training.data.splits import TRAIN
from training.pipeline.run_config import RunConfig
from training.pipeline.run_key import RunKey
from training.tuning.past_trials import PastTrials


class RunInputs(Frozen):
    """What a DAG run works on: its validated parameters, the splits it checked
    (location, SHA-256 over the three files, sizes), the search it runs and the
    MLflow store that records it."""

    search_id: str
    data_location: str
    data_sha256: str
    split_bytes: dict[str, int]
    config: RunConfig
    tracking: Tracking
    past_trials: PastTrials = PastTrials()  # the run's past_trials file, read once
    run_key: RunKey | None = None  # what the run's result depends on (training.pipeline.run_key)

    @property
    def trial_fit(self) -> FitSettings:
        """How each trial trains: the run's trial budget spent on its train split."""
        return self.config.trial_fit.for_train_split(self.split_bytes[TRAIN])
