"""PNG plots (matplotlib, headless): predicted vs true per dimension, and the loss curve."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def pyplot():
    """matplotlib.pyplot on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def pred_vs_true(pred: np.ndarray, true: np.ndarray, names: Sequence[str], out: Path, title: str = "") -> Path:
    plt = pyplot()
    n = len(names)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.6 * rows), squeeze=False)
    for j, name in enumerate(names):
        ax = axes[j // cols][j % cols]
        ax.scatter(true[:, j], pred[:, j], s=6, alpha=0.5)
        ax.plot([0, 10], [0, 10], "k--", lw=0.8)
        mae = float(np.abs(pred[:, j] - true[:, j]).mean())
        ax.set(
            title=f"{name}\nMAE {mae:.3f}",
            xlabel="oracle (true)",
            ylabel="student (predicted)",
            xlim=(0, 10),
            ylim=(0, 10),
        )
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def loss_curve(history: Sequence[dict], out: Path) -> Path:
    plt = pyplot()
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


def _grid(n: int):
    plt = pyplot()
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.4 * rows), squeeze=False)
    for j in range(n, rows * cols):
        axes[j // cols][j % cols].axis("off")
    return plt, fig, [axes[j // cols][j % cols] for j in range(n)]


def distributions(pred: np.ndarray, true: np.ndarray, names: Sequence[str], out: Path, title: str = "") -> Path:
    """Histograms of oracle vs student scores per column (dimensions, then e.g. the weighted average)."""
    plt, fig, axes = _grid(len(names))
    bins = np.linspace(0, 10, 21)
    for j, (ax, name) in enumerate(zip(axes, names)):
        ax.hist(true[:, j], bins=bins, alpha=0.5, label="oracle")
        ax.hist(pred[:, j], bins=bins, alpha=0.5, label="student")
        ax.set(title=name, xlabel="score", ylabel="articles")
    return _finish(plt, fig, axes, title, out)


def calibration_curve(
    raw: np.ndarray,
    calibrated: np.ndarray | None,
    true: np.ndarray,
    names: Sequence[str],
    out: Path,
    title: str = "",
    n_bins: int = 10,
) -> Path:
    """Reliability curve per dimension: mean oracle score per bin of predicted score."""
    plt, fig, axes = _grid(len(names))
    edges = np.linspace(0, 10, n_bins + 1)
    series = [("raw", np.clip(raw, 0, 10))] + (
        [("calibrated", np.clip(calibrated, 0, 10))] if calibrated is not None else []
    )
    for j, (ax, name) in enumerate(zip(axes, names)):
        for label, p in series:
            b = np.clip(np.digitize(p[:, j], edges) - 1, 0, n_bins - 1)
            xs = [p[b == k, j].mean() for k in range(n_bins) if (b == k).any()]
            ys = [true[b == k, j].mean() for k in range(n_bins) if (b == k).any()]
            ax.plot(xs, ys, marker="o", label=label)
        ax.plot([0, 10], [0, 10], "k--", lw=0.8)
        ax.set(title=name, xlabel="predicted (bin mean)", ylabel="oracle (bin mean)", xlim=(0, 10), ylim=(0, 10))
    return _finish(plt, fig, axes, title, out)


def error_vs_uncertainty(
    uncertainty: np.ndarray,
    abs_err: np.ndarray,
    flagged: np.ndarray,
    out: Path,
    xlabel: str = "uncertainty",
    title: str = "",
) -> Path:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.scatter(uncertainty[~flagged], abs_err[~flagged], s=8, alpha=0.5, label="not flagged")
    ax.scatter(uncertainty[flagged], abs_err[flagged], s=8, alpha=0.7, label="flagged for review")
    ax.set(xlabel=xlabel, ylabel="|error| of the weighted average", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def _finish(plt: Any, fig: Any, axes: Any, title: str, out: Path) -> Path:
    """Legend, title, layout, save, close: the last steps of every per-dimension grid."""
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out
