"""What the pipeline reads from storage, XCom or a request is data, never code:
no module unpickles, Keras model files load in safe mode, and a served model
refuses requests too big to answer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from training.core.errors import InputError
from training.data.vocab import Vocabulary
from training.tracking.pyfunc import parse_requests

pytestmark = pytest.mark.fault

REPO = Path(__file__).resolve().parents[2]
UNPICKLERS = {"pickle", "cloudpickle", "dill", "joblib", "_pickle", "shelve", "marshal"}


def test_no_project_module_imports_an_unpickler():
    offenders = []
    for folder in ("training", "dags", "plugins"):
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                offenders += [f"{path.relative_to(REPO)}: {name}" for name in names
                              if name.split(".")[0] in UNPICKLERS]
    assert offenders == []


def test_a_model_file_carrying_code_is_refused(tmp_path):
    import keras

    from training.model.generator import TweetGenerator

    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)  # code inside the file
    keras.Model(inputs, outputs).save(tmp_path / "best.keras")
    Vocabulary.default().save(tmp_path)
    with pytest.raises(ValueError, match="safe_mode"):
        TweetGenerator.from_checkpoint(tmp_path)


@pytest.mark.parametrize("rows, refusal", [
    ([{"prompt": "x", "n": 1001}], "n"),
    ([{"prompt": "x", "n": 500}] * 3, "1500 tweets asked in all"),
    ([{"prompt": "x"}] * 1001, "1001 rows"),
    ([{"prompt": "x", "max_chars": 10_001}], "max_chars"),
])
def test_oversized_requests_are_refused_before_generating(rows, refusal):
    import pandas as pd

    with pytest.raises(InputError, match=refusal):
        parse_requests(pd.DataFrame(rows))
