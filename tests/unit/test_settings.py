"""The configuration table is rendered from ``settings.VARIABLES``: it must hold
every variable the code reads."""

import re
from pathlib import Path

from training.core import settings

REPO = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bTWEETBOT_[A-Z0-9_]*[A-Z0-9]\b(?![_*])")


def variables_in_code() -> set[str]:
    names = set()
    for folder in ("training", "dags", "plugins"):
        for path in (REPO / folder).rglob("*.py"):
            names |= set(NAME.findall(path.read_text()))
    return names


def test_every_variable_the_code_reads_is_declared():
    declared = {variable.name for variable in settings.VARIABLES}
    known = declared | set(settings.INTERNAL_VARIABLES)
    # A prefix the code matches names by (``TWEETBOT_K8S``) is not a variable.
    missing = {name for name in variables_in_code() - known
               if not any(other.startswith(name + "_") for other in known)}
    assert not missing, f"declare these in training.core.settings.VARIABLES: {missing}"


def test_the_declarations_name_only_variables_in_use():
    used = variables_in_code()
    declared = {v.name for v in settings.VARIABLES if v.name.startswith("TWEETBOT_")}
    assert declared <= used, declared - used
