"""The study's figures (matplotlib, PNG): one function per figure, data in, file out."""

from __future__ import annotations

from pathlib import Path

from comparison.long_range import LengthScore
from comparison.throughput import SpeedRow
from comparison.translation import BucketScore, QualityPoint

MODELS = ("transformer", "lstm")
STYLE = {"transformer": ("tab:blue", "o"), "lstm": ("tab:orange", "s")}


def _pyplot():  # type: ignore[no-untyped-def]  # matplotlib has partial stubs
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> None:  # type: ignore[no-untyped-def]
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    _pyplot().close(figure)


def _length_axis(axis, lengths: list[int]) -> None:  # type: ignore[no-untyped-def]
    """A log2 length axis labelled with the measured lengths themselves."""
    axis.set_xscale("log", base=2)
    axis.set_xticks(lengths, [str(length) for length in lengths])
    axis.minorticks_off()


def long_range_figure(scores: list[LengthScore], tasks: tuple[str, ...], path: Path) -> None:
    """Sequence (solid), token (dashed) and, for agreement, last-token (dotted) accuracy against
    length, one panel per task."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.4), squeeze=False)
    for axis, task in zip(axes[0], tasks, strict=True):
        for model in MODELS:
            rows = [s for s in scores if s.task == task and s.model == model]
            color, marker = STYLE[model]
            lengths = [s.length for s in rows]
            axis.plot(
                lengths,
                [s.sequence_accuracy for s in rows],
                color=color,
                marker=marker,
                label=f"{model} sequence",
            )
            axis.plot(
                lengths,
                [s.token_accuracy for s in rows],
                color=color,
                linestyle="--",
                label=f"{model} token",
            )
            if task == "agreement":  # the long-range token itself: what the verdict scores
                axis.plot(
                    lengths,
                    [s.last_token_accuracy for s in rows],
                    color=color,
                    linestyle=":",
                    marker=marker,
                    fillstyle="none",
                    label=f"{model} last token",
                )
        if task == "agreement":
            axis.legend(fontsize=7)
        _length_axis(axis, sorted({s.length for s in scores}))
        axis.set_ylim(-0.03, 1.03)
        axis.set_title(task)
        axis.set_xlabel("sequence length")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy (greedy)")
    axes[0][0].legend(fontsize=7)
    _save(figure, path)


def speed_figure(rows: list[SpeedRow], path: Path) -> None:
    """Training tokens/s (left) and epoch time (right) against length, per model and threads."""
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    for model in MODELS:
        for threads in sorted({r.threads for r in rows}):
            chosen = [r for r in rows if r.model == model and r.threads == threads]
            color, marker = STYLE[model]
            style = "-" if threads == 1 else ":"
            label = f"{model}, {threads} thread{'s' if threads > 1 else ''}"
            lengths = [r.length for r in chosen]
            left.plot(
                lengths,
                [r.tokens_per_second for r in chosen],
                style,
                color=color,
                marker=marker,
                label=label,
            )
            right.plot(
                lengths,
                [r.epoch_seconds for r in chosen],
                style,
                color=color,
                marker=marker,
                label=label,
            )
    for axis, name in ((left, "target tokens / s"), (right, "seconds per epoch")):
        _length_axis(axis, sorted({r.length for r in rows}))
        axis.set_xlabel("sequence length")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
    left.legend(fontsize=7)
    _save(figure, path)


def quality_figure(points: list[QualityPoint], buckets: list[BucketScore], path: Path) -> None:
    """BLEU against training minutes (left) and BLEU per source-length bucket (right)."""
    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    names = list(dict.fromkeys(b.bucket for b in buckets))
    for offset, model in enumerate(MODELS):
        color, marker = STYLE[model]
        chosen = [p for p in points if p.model == model]
        left.plot(
            [p.minutes for p in chosen],
            [p.bleu for p in chosen],
            color=color,
            marker=marker,
            label=model,
        )
        scores = {b.bucket: b.bleu for b in buckets if b.model == model}
        right.bar(
            [i + 0.4 * offset for i in range(len(names))],
            [scores.get(n, 0.0) for n in names],
            width=0.4,
            color=color,
            label=model,
        )
    left.set_xlabel("training minutes (1 thread)")
    left.set_ylabel("test BLEU (greedy)")
    left.grid(alpha=0.3)
    left.legend(fontsize=8)
    right.set_xticks([i + 0.2 for i in range(len(names))], names)
    right.set_xlabel("source length (tokens)")
    right.set_ylabel("BLEU, final weights")
    _save(figure, path)
