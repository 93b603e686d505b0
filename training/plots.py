"""Plots logged as artifacts. Headless: matplotlib's Agg backend, no display."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from training.checkpoints import EpochRecord  # noqa: E402


def learning_curve(records: list[EpochRecord], path: Path, title: str = "") -> Path:
    """Training and validation loss per epoch, with the best epoch marked."""
    epochs = [r.epoch for r in records]
    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    axes.plot(epochs, [r.loss for r in records], marker="o", label="loss (train)")
    axes.plot(epochs, [r.val_loss for r in records], marker="o", label="val_loss")
    best = min(records, key=lambda r: r.val_loss)
    axes.scatter([best.epoch], [best.val_loss], s=120, facecolors="none",
                 edgecolors="black", label=f"best: {best.val_loss:.3f} (epoch {best.epoch})")
    axes.set_xlabel("epoch")
    axes.set_ylabel("cross-entropy (nats per character)")
    axes.set_title(title or "learning curve")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return Path(path)
