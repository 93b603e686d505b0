"""What a night's result depends on: the key a run is skipped by.

A ``tweetbot_training`` run is skipped when a model version was already trained
with the same key (the champion, or a candidate that lost to it: training it
again would lose again). The key has four parts, each recorded on the search's
MLflow run and on the version, so a run that is not skipped can say which part
changed:

- **data**: the SHA-256 over the three splits' hashes;
- **space**: the SHA-256 of the search space as the run resolved it (file and
  ``space_overrides``);
- **code**: the tweetbot version and revision (``training.core.settings``);
- **params**: the SHA-256 of the run parameters that change what is trained:
  all but ``force``, ``data_location`` (the data part covers it),
  ``space_overrides`` (the space part), ``promotion_margin``,
  ``promotion_rule`` and ``require_approval`` (which decide promotion, not the
  model).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from training.core import settings
from training.core.config import Frozen
from training.pipeline.run_config import RunConfig

NOT_A_TRAINING_INPUT = ("force", "data_location", "space_overrides", "promotion_margin",
                        "promotion_rule", "require_approval")
TAG_PREFIX = "tweetbot.run_key"  # tweetbot.run_key, tweetbot.run_key.data, ...
PARTS = ("data", "space", "code", "params")


class RunKey(Frozen):
    data: str
    space: str
    code: str
    params: str

    @classmethod
    def of(cls, config: RunConfig, data_sha256: str) -> RunKey:
        params = {**config.search.to_json(), **config.policy.to_json(),
                  **config.pruning.to_json(),
                  **{k: v for k, v in config.pipeline.to_json().items()
                     if k not in NOT_A_TRAINING_INPUT}}
        return cls(data=data_sha256, space=_sha256(config.space.describe()),
                   code=f"{settings.code_version()}@{settings.code_revision()}",
                   params=_sha256(params))

    @property
    def digest(self) -> str:
        return _sha256(self.to_json())

    def tags(self) -> dict[str, str]:
        """As MLflow tags: the whole key and each part."""
        return {TAG_PREFIX: self.digest,
                **{f"{TAG_PREFIX}.{part}": getattr(self, part) for part in PARTS}}

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> RunKey | None:
        """The key a version or run recorded; None if it recorded none (older ones)."""
        parts = {part: tags.get(f"{TAG_PREFIX}.{part}") for part in PARTS}
        return cls(**parts) if all(parts.values()) else None

    def changes_since(self, earlier: RunKey) -> list[str]:
        """The parts that differ from ``earlier``'s, in words."""
        changes = [part for part in ("data", "space", "params")
                   if getattr(self, part) != getattr(earlier, part)]
        words = {"data": "the splits", "space": "the search space",
                 "params": "the run parameters"}
        described = [words[part] for part in changes]
        if self.code != earlier.code:
            described.append(f"the code ({earlier.code} -> {self.code})")
        return described


def _sha256(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()
