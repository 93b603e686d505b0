"""The registered model: an MLflow pyfunc that writes tweets.

Input: a table with a ``prompt`` column and optional ``temperature``,
``max_chars``, ``n`` and ``seed`` columns (defaults: ``GenerationRequest``'s);
one row per request.
Output: one row per generated tweet, with the request's row number and the text.
A bad request (no ``prompt``, ``temperature <= 0``, ``n < 1``, ...) is refused
with a message naming the column; served, that is an HTTP 400.
The Keras checkpoint and its vocabulary travel inside the model, with the code
that loads them (``generator_model.py``; nothing is pickled); loading builds
the stateless inference model from them (``training.generate``), never the
fixed-batch training graph.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types.schema import AnyType, ColSpec, Schema

from training import tracking
from training.core.errors import InputError
from training.data.vocab import VOCAB_FILENAME
from training.model.checkpoints import BEST_FILENAME
from training.model.generator import GenerationRequest

ARTIFACT_PATH = "model"
MAX_TWEETS_PER_REQUEST = 1000  # a served model answers each request in one go
INPUT_COLUMNS = tuple(GenerationRequest.model_fields)
DEFAULTS = GenerationRequest().model_dump()


class TweetGeneratorModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from training.model.generator import TweetGenerator

        self.generator = TweetGenerator.from_checkpoint(Path(context.artifacts["checkpoint"]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        try:
            requests = parse_requests(model_input)
        except InputError as error:
            # An MlflowException with this code is what the scoring server answers
            # with a 400 and the message; anything else becomes a bare error.
            raise MlflowException(str(error), error_code=INVALID_PARAMETER_VALUE) from None
        rows = [{"row": index, "tweet": tweet}
                for index, request in enumerate(requests)
                for tweet in self.generator.generate(request)]
        return pd.DataFrame(rows, columns=["row", "tweet"])


def parse_requests(table: pd.DataFrame) -> list[GenerationRequest]:
    """Validate a request table; one clear error naming the column or row."""
    if not isinstance(table, pd.DataFrame):
        table = pd.DataFrame(table)
    unknown = [c for c in table.columns if c not in INPUT_COLUMNS]
    if unknown:
        raise InputError(f"unknown column {unknown[0]!r}; expected {', '.join(INPUT_COLUMNS)}")
    if len(table) > MAX_TWEETS_PER_REQUEST:
        raise InputError(f"{len(table)} rows: at most {MAX_TWEETS_PER_REQUEST} per request")
    requests = []
    for index, row in enumerate(table.to_dict("records")):
        values = {**DEFAULTS, **{k: v for k, v in row.items() if not _missing(v)}}
        try:
            requests.append(GenerationRequest.from_mapping({
                "prompt": str(values["prompt"]), "temperature": float(values["temperature"]),
                "max_chars": _whole(values, "max_chars"), "n": _whole(values, "n"),
                "seed": None if values["seed"] is None else _whole(values, "seed")}))
        except (ValueError, TypeError) as error:  # InputError is a ValueError
            raise InputError(f"row {index}: {error}") from None
    asked = sum(request.n for request in requests)
    if asked > MAX_TWEETS_PER_REQUEST:
        raise InputError(f"n: {asked} tweets asked in all; at most {MAX_TWEETS_PER_REQUEST} "
                         f"per request")
    return requests


def _whole(values: dict, name: str) -> int:
    value = float(values[name])
    if not value.is_integer():
        raise InputError(f"{name}: expected a whole number, got {values[name]!r}")
    return int(value)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


# What the served model imports (training itself travels in code_paths).
SERVING_PACKAGES = ("mlflow", "tensorflow", "keras", "numpy", "pandas", "pydantic")


def requirements() -> list[str]:
    """The serving environment, pinned to what trained the model. Declared, not
    inferred: inference loads the model in a second process, which costs tens of
    seconds per registered model."""
    from importlib import metadata

    return [f"{name}=={metadata.version(name)}" for name in SERVING_PACKAGES]


def log_generator_model(checkpoint_dir: Path) -> str:
    """Log the pyfunc model into the active run; returns its model URI."""
    import training

    checkpoint_dir = Path(checkpoint_dir)
    bundle = {"checkpoint": str(checkpoint_dir / "_bundle")}
    bundle_dir = checkpoint_dir / "_bundle"
    bundle_dir.mkdir(exist_ok=True)
    for name in (BEST_FILENAME, VOCAB_FILENAME):
        (bundle_dir / name).write_bytes((checkpoint_dir / name).read_bytes())
    example = pd.DataFrame([{**DEFAULTS, "prompt": "The ", "max_chars": 80, "n": 2,
                             "seed": 1}])
    signature = ModelSignature(
        inputs=Schema([ColSpec("string", "prompt"),
                       # Numbers as Any: JSON gives ints or floats, and a column some
                       # rows leave out arrives as floats with NaN; MLflow would refuse
                       # either for a long or a double. parse_requests checks them.
                       ColSpec(AnyType(), "temperature", required=False),
                       ColSpec(AnyType(), "max_chars", required=False),
                       ColSpec(AnyType(), "n", required=False),
                       ColSpec(AnyType(), "seed", required=False)]),
        outputs=Schema([ColSpec("long", "row"), ColSpec("string", "tweet")]))
    info = mlflow.pyfunc.log_model(
        # A code file, not an instance: an instance would be stored pickled.
        name=ARTIFACT_PATH, python_model=str(Path(__file__).with_name("generator_model.py")),
        artifacts=bundle,
        signature=signature, input_example=example, pip_requirements=requirements(),
        code_paths=[str(Path(training.__file__).parent)])
    return info.model_uri


def download_checkpoint(model_uri: str, destination: Path) -> Path:
    """The checkpoint folder (best.keras, vocab.json) inside a logged or
    registered model, downloaded under ``destination``."""
    tracking.configure()
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri,
                                                         dst_path=str(destination)))
    except MlflowException as error:
        first = str(error).splitlines()[0]
        raise InputError(f"--model-uri {model_uri}: cannot load ({first})") from None
    flavor = mlflow.models.Model.load(str(local)).flavors.get("python_function", {})
    bundle = flavor.get("artifacts", {}).get("checkpoint", {}).get("path")
    if bundle is None:
        raise InputError(f"--model-uri {model_uri}: not a tweetbot model (no checkpoint)")
    return local / bundle


def generate(model_uri: str, request: GenerationRequest) -> list[str]:
    """Tweets from a logged or registered model (``models:/name@alias``)."""
    tracking.configure()
    try:
        model = mlflow.pyfunc.load_model(model_uri)
    except MlflowException as error:
        first = str(error).splitlines()[0]
        raise InputError(f"--model-uri {model_uri}: cannot load ({first})") from None
    # An absent optional column, not a null one: the signature types seed as long.
    row = {k: v for k, v in request.model_dump().items() if v is not None}
    return list(model.predict(pd.DataFrame([row]))["tweet"])
