"""The learning curve logged with every training run.

Drawn on a ``matplotlib.figure.Figure`` directly: no pyplot, so no backend to
choose and nothing that needs a display.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from training.model.checkpoints import EpochRecord


def learning_curve(records: list[EpochRecord], path: Path, title: str = "") -> Path:
    """Training and validation loss per epoch, with the best epoch marked."""
    epochs = [r.epoch for r in records]
    figure = Figure(figsize=(6, 4), dpi=100)
    axes = figure.subplots()
    axes.plot(epochs, [r.loss for r in records], marker="o", label="loss (train)")
    axes.plot(epochs, [r.val_loss for r in records], marker="o", label="val_loss")
    best = min(records, key=lambda r: r.val_loss)
    axes.scatter([best.epoch], [best.val_loss], s=120, facecolors="none",
                 edgecolors="black", label=f"best: {best.val_loss:.3f} (epoch {best.epoch})")
    axes.set_xlabel("epoch")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("cross-entropy (nats per character)")
    axes.set_title(title or "learning curve")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    return Path(path)
