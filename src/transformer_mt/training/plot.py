"""``transformer-mt plot``: a run's training curves from its metrics log, as one PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.errors import UserError
from transformer_mt.training.metrics_log import read_metrics

VALID_SERIES = ("valid_loss", "valid_bleu")
PANELS = (
    ("loss", "loss (nats per target token)"),
    ("lr", "learning rate"),
    ("tokens_per_s", "target tokens / s"),
    ("valid_bleu", "validation BLEU (greedy)"),
)


def curves(records: list[dict[str, Any]]) -> dict[str, tuple[list[int], list[float]]]:
    """(steps, values) per plotted series: train loss/lr/speed, validation loss and BLEU."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    for record in records:
        names = ("loss", "lr", "tokens_per_s") if record["kind"] == "train" else VALID_SERIES
        for name in names:
            if name not in record:
                continue
            steps, values = series.setdefault(name, ([], []))
            steps.append(record["step"])
            values.append(record[name])
    return series


def plot_run(run_dir: Path, output: Path | None = None) -> Path:
    """Draw loss (train and validation), learning rate, speed and BLEU against step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = RunDir(run_dir)
    records = read_metrics(run.metrics)
    if not records:
        raise UserError(f"{run.metrics}: no metrics to plot (has the run logged a step yet?)")
    series = curves(records)
    figure, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for axis, (name, title) in zip(axes.flat, PANELS, strict=True):
        if name in series:
            axis.plot(*series[name], label="train" if name == "loss" else None)
        if name == "loss" and "valid_loss" in series:
            axis.plot(*series["valid_loss"], marker="o", label="validation")
            axis.legend()
        if name == "valid_bleu" and name in series:
            axis.lines[-1].set_marker("o")
        axis.set_title(title)
        axis.grid(alpha=0.3)
    for axis in axes[1]:
        axis.set_xlabel("update step")
    figure.suptitle(f"training curves: {run.path.name}")
    figure.tight_layout()
    target = output or run.curves
    figure.savefig(target, dpi=110)
    plt.close(figure)
    return target
