"""Figures of the explanations, drawn with matplotlib (object API, no global pyplot state).

Every ``draw_*`` function takes the dataclass computed by its concept module and returns a
:class:`~matplotlib.figure.Figure`; :func:`png_bytes` renders one with a CJK-capable font.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from transformer_mt.explain.attention import AttentionMaps
from transformer_mt.explain.dimensions import Dimensions
from transformer_mt.explain.exposure import ExposureBias
from transformer_mt.explain.fonts import figure_fonts
from transformer_mt.explain.masks_view import BatchMasks
from transformer_mt.explain.shift import ShiftTable

MASK_COLORS = ListedColormap(["#e6e6e6", "#3b75af"])  # masked, may attend
HEAT = "viridis"
CELL = 0.42  # inches per heatmap cell
DPI = 110


def png_bytes(
    draw: Callable[..., Figure], *args: object, warn: Callable[[str], None] | None = None
) -> bytes:
    """Draw a figure with a font that has Chinese characters and return it as PNG bytes."""
    with mpl.rc_context(figure_fonts(warn)):
        figure = draw(*args)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)  # constrained layout: no "tight" redraw
    return buffer.getvalue()


def _label_axes(ax: Axes, rows: Sequence[str], columns: Sequence[str]) -> None:
    ax.set_xticks(range(len(columns)), [_piece(c) for c in columns], rotation=90, fontsize=8)
    ax.set_yticks(range(len(rows)), [_piece(r) for r in rows], fontsize=8)
    ax.tick_params(length=0)


def _piece(token: str) -> str:
    """A piece as a label: SentencePiece's word-start mark ``▁`` kept visible."""
    return token if token.strip() else repr(token)


# -- masks ------------------------------------------------------------------------------------
def draw_masks(view: BatchMasks) -> Figure:
    """One row per sentence: encoder, decoder (causal + padding) and cross-attention masks."""
    sentences = len(view.source_tokens)
    source_length, target_length = view.encoder.shape[-1], view.decoder.shape[-1]
    width = CELL * (2 * source_length + target_length) + 4
    height = CELL * max(source_length, target_length) * sentences + 1.5 * sentences
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(sentences, 3, squeeze=False)
    panels = (
        ("encoder self-attention", "encoder", "source_tokens", "source_tokens"),
        ("decoder masked self-attention", "decoder", "decoder_tokens", "decoder_tokens"),
        ("cross-attention (decoder → encoder)", "cross", "decoder_tokens", "source_tokens"),
    )
    image = None
    for b in range(sentences):
        for ax, (title, name, rows, columns) in zip(axes[b], panels, strict=True):
            image = ax.imshow(getattr(view, name)[b], cmap=MASK_COLORS, vmin=0, vmax=1)
            _label_axes(ax, getattr(view, rows)[b], getattr(view, columns)[b])
            ax.set_title(f"sentence {b + 1}: {title}", fontsize=9)
            ax.set_xlabel("key (attended to)", fontsize=8)
            ax.set_ylabel("query", fontsize=8)
    bar = figure.colorbar(image, ax=axes, ticks=[0.25, 0.75], shrink=0.5)
    bar.ax.set_yticklabels(["masked", "may attend"])
    figure.suptitle("The three attention masks of one padded batch (True = may attend)")
    return figure


# -- teacher forcing ---------------------------------------------------------------------------
def draw_shift(table: ShiftTable) -> Figure:
    """Decoder input, target and the model's probability of the target, per position."""
    rows = table.rows
    figure = Figure(figsize=(max(6.0, 0.9 * len(rows) + 2), 5.2), layout="constrained")
    chart, grid = figure.subplots(2, 1, height_ratios=[2, 1.4])
    positions = np.arange(len(rows))
    chart.bar(positions, [r.probability for r in rows], color="#3b75af", label="p(target)")
    chart.scatter(
        positions,
        [r.predicted_probability for r in rows],
        marker="_",
        s=400,
        color="#d62728",
        label="p(model's top token)",
    )
    chart.set_xticks(positions, [f"{r.decoder_input} → {r.target}" for r in rows], fontsize=9)
    chart.set_ylim(0, 1)
    chart.set_ylabel("probability")
    chart.legend(fontsize=8, loc="upper right")
    chart.set_title(
        "Teacher forcing: decoder input <s> + y, targets y + </s>, one parallel pass\n"
        f"(loss {table.loss:.2f} nats/token, accuracy {table.accuracy:.0%})",
        fontsize=10,
    )
    grid.axis("off")
    cells = [
        [
            r.decoder_input,
            r.target,
            f"{r.probability:.3f}",
            f"{r.predicted} ({r.predicted_probability:.2f})",
        ]
        for r in rows
    ]
    labels = ["decoder input", "target", "p(target)", "model's top token"]
    grid.table(
        cellText=np.array(cells).T.tolist(),
        rowLabels=labels,
        colLabels=[str(r.position) for r in rows],
        loc="center",
        cellLoc="center",
    )
    return figure


# -- attention ---------------------------------------------------------------------------------
def draw_attention(maps: AttentionMaps, kind: str) -> Figure:
    """Every layer (rows) and head (columns) of one attention kind as heatmaps.

    ``kind`` is ``"encoder"``, ``"decoder_self"`` or ``"cross"``.
    """
    layers: list[np.ndarray] = getattr(maps, kind)
    rows, columns, title = {
        "encoder": (maps.source_tokens, maps.source_tokens, "Encoder self-attention"),
        "decoder_self": (maps.target_tokens, maps.target_tokens, "Decoder masked self-attention"),
        "cross": (maps.output_tokens, maps.source_tokens, "Cross-attention"),
    }[kind]
    heads = layers[0].shape[0]
    width = heads * (CELL * len(columns) + 1.2) + 1.5
    height = len(layers) * (CELL * len(rows) + 1.2) + 0.8
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(len(layers), heads, squeeze=False)
    image = None
    for layer_index, layer in enumerate(layers):
        for head in range(heads):
            ax = axes[layer_index, head]
            image = ax.imshow(layer[head], cmap=HEAT, vmin=0, vmax=1)
            _label_axes(ax, rows, columns)
            ax.set_title(f"layer {layer_index + 1}, head {head + 1}", fontsize=9)
    figure.colorbar(image, ax=axes, shrink=0.6, label="attention probability")
    query = "predicting (decoder position)" if kind == "cross" else "query"
    figure.suptitle(f"{title}: rows = {query}, columns = key; each row sums to 1")
    return figure


def draw_alignment(maps: AttentionMaps) -> Figure:
    """The last layer's cross-attention averaged over heads: a soft word alignment."""
    source, output = maps.source_tokens, maps.output_tokens
    figure = Figure(
        figsize=(max(CELL * 1.6 * len(source) + 2.5, 5.0), CELL * 1.6 * len(output) + 1.8),
        layout="constrained",
    )
    ax = figure.subplots()
    image = ax.imshow(maps.alignment, cmap=HEAT, vmin=0, vmax=1)
    _label_axes(ax, output, source)
    for (row, column), value in np.ndenumerate(maps.alignment):
        color = "black" if value > 0.6 else "white"
        ax.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=7, color=color)
    ax.set_xlabel("source piece")
    ax.set_ylabel("target piece being predicted")
    figure.colorbar(image, ax=ax, shrink=0.8, label="mean attention over heads")
    ax.set_title(
        f"Soft alignment: cross-attention of decoder layer {len(maps.cross)},\n"
        f"mean of its {maps.num_heads} heads",
        fontsize=10,
    )
    return figure


# -- dimensions --------------------------------------------------------------------------------
def draw_dimensions(dims: Dimensions) -> Figure:
    """Parameters per block, and the multi-head shapes in the notes' letters."""
    blocks = dims.blocks
    figure = Figure(figsize=(11, 0.3 * len(blocks) + 2.5), layout="constrained")
    bars, text = figure.subplots(1, 2, width_ratios=[1.6, 1])
    positions = np.arange(len(blocks))[::-1]
    bars.barh(positions, [b.parameters for b in blocks], color="#3b75af")
    bars.set_yticks(positions, [b.name + (" (shared)" if b.shared else "") for b in blocks])
    for position, block in zip(positions, blocks, strict=True):
        bars.text(block.parameters, position, f" {block.parameters:,}", va="center", fontsize=8)
    bars.set_xlabel("parameters")
    bars.set_title(f"Parameters per block (total {dims.total_parameters:,})", fontsize=10)
    text.axis("off")
    lines = [
        f"E = {dims.d_model}   h = {dims.num_heads}   d = E / h = {dims.head_dim}",
        f"feed-forward width d_ff = {dims.d_ff}",
        "",
        f"shapes for N = {dims.tokens} tokens:",
        *(f"{s.name}: {s.formula} = {' × '.join(map(str, s.shape))}" for s in dims.shapes),
    ]
    text.text(0, 1, "\n".join(lines), va="top", fontsize=9, family="monospace")
    return figure


# -- exposure bias -----------------------------------------------------------------------------
def draw_exposure(report: ExposureBias, min_share: float = 0.05) -> Figure:
    """Accuracy and loss per position, teacher forced vs free running, and injected errors.

    Positions reached by fewer than ``min_share`` of the sentences are not drawn (too noisy).
    """
    forced, free = report.teacher_forced, report.free_running
    enough = [n >= max(1, min_share * report.sentences) for n in forced.tokens]
    shown = len(enough) if all(enough) else enough.index(False)
    positions = np.arange(1, shown + 1)
    figure = Figure(figsize=(15, 4.2), layout="constrained")
    accuracy, loss, injected = figure.subplots(1, 3)
    for curve, label, color in (
        (forced, "teacher forced", "#3b75af"),
        (free, "free running (greedy)", "#d62728"),
    ):
        accuracy.plot(positions, curve.accuracy[:shown], marker="o", label=label, color=color)
        loss.plot(positions, curve.loss[:shown], marker="o", label=label, color=color)
    accuracy.set(xlabel="target position", ylabel="token accuracy", ylim=(0, 1))
    accuracy.set_title(
        f"Accuracy: {forced.overall_accuracy:.1%} teacher forced, "
        f"{free.overall_accuracy:.1%} free running",
        fontsize=10,
    )
    loss.set(xlabel="target position", ylabel="loss of the reference token (nats)")
    loss.set_title("Loss after the reference prefix vs the model's own", fontsize=10)
    for ax in (accuracy, loss):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    ks = [i.injected for i in report.injections]
    injected.bar(np.arange(len(ks)), [i.accuracy for i in report.injections], color="#3b75af")
    injected.set_xticks(np.arange(len(ks)), [str(k) for k in ks])
    injected.set(xlabel="wrong tokens injected into the decoder input", ylabel="token accuracy")
    twin = injected.twinx()
    twin.plot(np.arange(len(ks)), [i.loss for i in report.injections], color="#d62728", marker="o")
    twin.set_ylabel("loss (nats/token)", color="#d62728")
    injected.set_title("Teacher forcing with k plausible mistakes", fontsize=10)
    figure.suptitle(
        f"Exposure bias on {report.sentences} held-out sentence pairs (training-inference mismatch)"
    )
    return figure
