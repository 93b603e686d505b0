"""Plots logged as artifacts. Headless: matplotlib's Agg backend, no display."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from training.checkpoints import EpochRecord  # noqa: E402
from training.records import OK, PRUNED  # noqa: E402


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


def trade_off(trials, front, chosen, path: Path, title: str = "") -> Path:
    """val_loss against seconds per epoch: every trial, the Pareto front, the choice."""
    figure, axes = plt.subplots(figsize=(6.5, 4.5), dpi=100)
    for status, marker, color in ((OK, "o", "tab:blue"), (PRUNED, "x", "tab:gray")):
        points = [t for t in trials if t.status == status and t.val_loss is not None
                  and t.avg_epoch_seconds is not None]
        axes.scatter([t.avg_epoch_seconds for t in points], [t.val_loss for t in points],
                     marker=marker, color=color, label=f"{status} ({len(points)})")
        for t in points:
            axes.annotate(str(t.trial_num), (t.avg_epoch_seconds, t.val_loss),
                          textcoords="offset points", xytext=(4, 3), fontsize=7)
    axes.plot([t.avg_epoch_seconds for t in front], [t.val_loss for t in front],
              color="tab:orange", drawstyle="steps-post", label="Pareto front")
    axes.scatter([chosen.avg_epoch_seconds], [chosen.val_loss], s=220, facecolors="none",
                 edgecolors="red", linewidths=2, label=f"chosen: trial {chosen.trial_num}")
    axes.set_xlabel("seconds per epoch")
    axes.set_ylabel("best val_loss")
    axes.set_title(title or "trials: loss against cost")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return Path(path)
