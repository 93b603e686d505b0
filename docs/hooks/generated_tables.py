"""MkDocs hook: the tables the code declares, rendered into the pages that show them.

    <!-- tweetbot:run-parameters -->   the trigger form's parameters, by section
                                       (``training.pipeline.run_config.params_schema``)
    <!-- tweetbot:configuration -->    the environment variables, by section
                                       (``training.core.settings.VARIABLES``)

The same declarations build the trigger form and are read by the code, so the
docs cannot drift from them. A marker on a page with no table to give fails the
build.
"""

from __future__ import annotations

import json
import os
import re
from itertools import groupby

MARKER = re.compile(r"<!-- tweetbot:([a-z-]+) -->")


def on_page_markdown(markdown: str, page, config, files) -> str:
    return MARKER.sub(lambda match: TABLES[match.group(1)](), markdown)


def run_parameters() -> str:
    from training.pipeline.run_config import params_schema

    os.environ.pop("TWEETBOT_RUN_DEFAULTS", None)  # the code's defaults, not a deployment's
    schema = params_schema()
    parts = []
    for section, names in groupby(schema, key=lambda name: schema[name]["section"]):
        rows = [f"| `{name}` | {_default(schema[name])} | {_meaning(schema[name])} |"
                for name in names]
        parts.append("\n".join([f"**{section}**", "", "| parameter | default | meaning |",
                                "| --- | --- | --- |", *rows]))
    return "\n\n".join(parts)


def configuration() -> str:
    from training.core.settings import VARIABLES

    parts = []
    for section, variables in groupby(VARIABLES, key=lambda variable: variable.section):
        rows = [f"| `{v.name}` | {v.default} | {v.meaning} |" for v in variables]
        parts.append("\n".join([f"**{section}**", "", "| variable | default | meaning |",
                                "| --- | --- | --- |", *rows]))
    return "\n\n".join(parts)


def _default(field: dict) -> str:
    value = field.get("default")
    if value is None:
        return "none"
    return f"`{json.dumps(value)}`"


def _meaning(field: dict) -> str:
    text = field.get("description", "")
    limits = [f"{word} {field[key]}" for key, word in (("minimum", "≥"), ("maximum", "≤"))
              if key in field]
    if "enum" in field:
        limits.append("one of " + ", ".join(f"`{value}`" for value in field["enum"]))
    text = text.replace("|", "\\|")
    return f"{text} ({'; '.join(limits)})" if limits else text


TABLES = {"run-parameters": run_parameters, "configuration": configuration}
