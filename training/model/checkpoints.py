"""What a checkpoint folder holds, and how a killed run finds where it stopped.

    checkpoint_dir/
      state.json        epochs finished, their metrics, the files below (commit point)
      epoch-0007.keras  the last finished epoch: model + optimizer, for resuming
      best.keras        the best epoch by val_loss: what gets evaluated and shipped
      vocab.json        the vocabulary the model was trained with
      logs/             TensorBoard

Every file is written under a temporary name and renamed into place, and
``state.json`` is written last, so after a kill at any moment the folder
describes a consistent, finished epoch. ``state.json`` also holds each model
file's SHA-256: a file damaged since (a truncated copy on a shared volume) is
refused by name on resume instead of failing deep inside Keras, or worse,
loading. No TensorFlow here.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from training.core.atomic import write_atomically
from training.core.errors import DamagedArtifact

STATE_FILENAME = "state.json"
BEST_FILENAME = "best.keras"
LOGS_DIRNAME = "logs"


@dataclass(frozen=True)
class EpochRecord:
    """The metrics of one finished epoch (epochs count from 1)."""

    epoch: int
    loss: float
    val_loss: float
    val_bits_per_char: float
    epoch_seconds: float
    chars_per_second: float
    learning_rate: float


@dataclass
class TrainingState:
    hyperparams: dict
    fit: dict
    epochs: list[EpochRecord] = field(default_factory=list)
    last_checkpoint: str | None = None
    best_epoch: int | None = None
    stop_reason: str | None = None
    mlflow_run_id: str | None = None
    data_sha256: dict[str, str] = field(default_factory=dict)
    file_sha256: dict[str, str] = field(default_factory=dict)  # model files, by name

    @property
    def epochs_done(self) -> int:
        return len(self.epochs)

    @property
    def best(self) -> EpochRecord | None:
        return self.epochs[self.best_epoch - 1] if self.best_epoch else None

    def improves_best(self, val_loss: float) -> bool:
        best = self.best
        return math.isfinite(val_loss) and (best is None or val_loss < best.val_loss)

    def record_file(self, directory: Path, name: str) -> None:
        """Note a model file just written, to be checked when it is read back."""
        self.file_sha256[name] = file_sha256(Path(directory) / name)

    def checked_file(self, directory: Path, name: str) -> Path:
        """``directory / name``, refused unless it is the file that was written."""
        path = Path(directory) / name
        expected = self.file_sha256.get(name)
        if expected is None:
            return path  # written before digests were kept
        if not path.is_file() or file_sha256(path) != expected:
            raise DamagedArtifact(f"{path}: damaged or missing since epoch {self.epochs_done} was "
                             f"saved (SHA-256 differs from {STATE_FILENAME}); remove "
                             f"{Path(directory)} to train from scratch")
        return path

    def save(self, directory: Path) -> None:
        write_atomically(Path(directory) / STATE_FILENAME,
                         json.dumps(asdict(self), indent=2).encode())

    @classmethod
    def load(cls, directory: Path) -> TrainingState | None:
        path = Path(directory) / STATE_FILENAME
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        raw["epochs"] = [EpochRecord(**record) for record in raw["epochs"]]
        return cls(**raw)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def epoch_checkpoint_name(epoch: int) -> str:
    return f"epoch-{epoch:04d}.keras"


def epochs_without_improvement(val_losses: list[float], min_delta: float) -> int:
    """Keras EarlyStopping's counter, recomputed from history so it survives a
    restart: an epoch improves when it beats the best so far by ``min_delta``."""
    best, wait = math.inf, 0
    for value in val_losses:
        if value < best - min_delta:
            best, wait = value, 0
        else:
            wait += 1
    return wait
