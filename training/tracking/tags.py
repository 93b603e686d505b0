"""The MLflow tag names tweetbot writes and searches by, declared once.

Runs: ``KIND`` says what a run is (``search``, ``trial``, ``train``); trials and
their search share ``SEARCH_ID``, so any process finds them without being handed
run ids. Model versions carry the lineage tags (``DAG_RUN_ID``, ``SEARCH_RUN_ID``,
``DATA_SHA256``, ``TEST_LOSS``, ``SEARCH_ID``, the code that trained it,
``CODE_VERSION`` and ``CODE_REVISION``, and what its night cost,
``ACCELERATOR_SECONDS`` and ``WALL_SECONDS``); an imported model, where it came from
(``SOURCE_FILE``, ``SOURCE_SHA256``, ``SOURCE_FORMAT``).
"""

KIND = "tweetbot.kind"
SEARCH, TRIAL, TRAIN = "search", "trial", "train"  # values of KIND
IMPORT = "import"  # a model trained elsewhere (the tutorial's HDF5 file)

SEARCH_ID = "tweetbot.search_id"
TRIAL_NUM = "tweetbot.trial_num"
TRIAL_STATUS = "tweetbot.trial_status"
# Why a trial holds its point, when no sampler chose it: the tutorial's configuration
# (the floor), the champion's or an earlier search's (warm start).
SEEDED = "tweetbot.seeded"
FAILURE_REASON = "tweetbot.failure_reason"
# On a run (and its logged model) whose stored model is not what it wrote: why.
DAMAGED = "tweetbot.damaged"
PARENT_RUN_ID = "mlflow.parentRunId"  # MLflow's own: nests trials under their search

SELECTION = "tweetbot.selection"
CHOSEN_TRIAL = "tweetbot.chosen_trial"
CHOSEN_RUN_ID = "tweetbot.chosen_run_id"

MODEL_URI = "tweetbot.model_uri"
STOP_REASON = "tweetbot.stop_reason"
DAG_RUN_ID = "tweetbot.dag_run_id"
SEARCH_RUN_ID = "tweetbot.search_run_id"
CHOSEN_TRIAL_RUN_ID = "tweetbot.chosen_trial_run_id"
DATA_SHA256 = "tweetbot.data_sha256"
# The code that trained a run's model (training.core.settings), copied to its version.
CODE_VERSION = "tweetbot.code_version"
CODE_REVISION = "tweetbot.code_revision"
# The Keras backend that trained a run's model (its last attempt's, if resumed).
KERAS_BACKEND = "tweetbot.keras_backend"
TEST_LOSS = "tweetbot.test_loss"
# The evidence a version was promoted (or not) on: its gain over the champion it
# was tested against, the gain's bootstrap lower bound and how it was computed.
TEST_SHA256 = "tweetbot.test_sha256"
GAIN = "tweetbot.gain"
GAIN_LOWER_BOUND = "tweetbot.gain_lower_bound"
GAIN_UNIT = "tweetbot.gain_unit"
GAIN_UNITS = "tweetbot.gain_units"
BOOTSTRAP_RESAMPLES = "tweetbot.bootstrap_resamples"
BOOTSTRAP_SEED = "tweetbot.bootstrap_seed"
PROMOTION_RULE = "tweetbot.promotion_rule"
# What the DAG run that made a version cost (training.tracking.search_store.night_cost).
ACCELERATOR_SECONDS = "tweetbot.accelerator_seconds"
WALL_SECONDS = "tweetbot.wall_seconds"

SOURCE_FILE = "tweetbot.source_file"
SOURCE_SHA256 = "tweetbot.source_sha256"
SOURCE_FORMAT = "tweetbot.source_format"
