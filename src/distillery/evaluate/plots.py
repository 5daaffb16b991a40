"""PNG plots (matplotlib, headless): predicted vs true per dimension, and the loss curve."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def pred_vs_true(pred: np.ndarray, true: np.ndarray, names: Sequence[str], out: Path, title: str = "") -> Path:
    plt = _plt()
    n = len(names)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.6 * rows), squeeze=False)
    for j, name in enumerate(names):
        ax = axes[j // cols][j % cols]
        ax.scatter(true[:, j], pred[:, j], s=6, alpha=0.5)
        ax.plot([0, 10], [0, 10], "k--", lw=0.8)
        mae = float(np.abs(pred[:, j] - true[:, j]).mean())
        ax.set(title=f"{name}\nMAE {mae:.3f}", xlabel="oracle (true)", ylabel="student (predicted)", xlim=(0, 10), ylim=(0, 10))
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def loss_curve(history: Sequence[dict], out: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [h["epoch"] for h in history]
    for key, label in (("train_loss", "train loss (MSE-scale)"), ("val_loss", "val loss"), ("val_mae", "val MAE")):
        ax.plot(epochs, [h.get(key, float("nan")) for h in history], marker="o", label=label)
    ax.set(xlabel="epoch", title="training curve")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
