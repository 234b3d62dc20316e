"""Figures of the decoding traces: greedy steps as bar charts, beam search as a tree."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from transformer_mt.explain.trace import BeamTrace, DecodingTrace

FATE_COLORS = {"kept": "#2ca02c", "finished": "#1f5fbf", "pruned": "#b0b0b0"}


def draw_greedy_trace(trace: DecodingTrace, max_steps: int = 16) -> Figure:
    """One panel per step: the decoder input so far and its top-k next tokens."""
    steps = trace.steps[:max_steps]
    columns = min(4, len(steps))
    rows = -(-len(steps) // columns)
    figure = Figure(figsize=(4.2 * columns, 2.3 * rows + 0.8), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, step in zip(axes, steps, strict=False):
        positions = np.arange(len(step.top))[::-1]
        colors = [
            "#d62728" if choice.token_id == step.chosen.token_id else "#9ab8d6"
            for choice in step.top
        ]
        ax.barh(positions, [c.probability for c in step.top], color=colors)
        ax.set_yticks(positions, [c.token for c in step.top], fontsize=9)
        for position, choice in zip(positions, step.top, strict=True):
            ax.text(
                choice.probability, position, f" {choice.probability:.2f}", va="center", fontsize=8
            )
        ax.set_xlim(0, 1.15)
        title = f"step {step.step}: input {' '.join(step.decoder_input)}"
        if step.blocked is not None:  # the model's first choice, blocked as a repetition
            blocked = step.blocked
            title += f"\nblocked repetition: {blocked.token} ({blocked.probability:.2f})"
        ax.set_title(title, fontsize=9, color="#b35900" if step.blocked else "black")
    for ax in axes[len(steps) :]:
        ax.axis("off")
    shown = "" if len(trace.steps) <= max_steps else f" (first {max_steps} of {len(trace.steps)})"
    figure.suptitle(
        f"Greedy decoding: top next tokens at each step, the chosen one in red{shown}\n"
        f"“{' '.join(trace.source_tokens)}” → “{trace.translation}”"
    )
    return figure


def draw_beam_trace(trace: BeamTrace) -> Figure:
    """Candidates by step (x) and total log-probability (y), coloured by what became of them.

    Lines join each candidate to the beam it extends; finished hypotheses carry their
    length-penalised score.
    """
    steps = trace.steps
    height = max(4.0, 0.55 * max(len(s.candidates) for s in steps) + 2)
    figure = Figure(figsize=(min(1.6 * len(steps) + 3, 20), height), layout="constrained")
    ax = figure.subplots()
    previous: dict[tuple[str, ...], float] = {}
    for step in steps:
        for candidate in step.candidates:
            parent = previous.get(tuple(candidate.tokens[:-1]))
            if parent is not None:
                ax.plot(
                    [step.step - 1, step.step],
                    [parent, candidate.log_prob],
                    color="#cccccc",
                    lw=1,
                    zorder=1,
                )
            ax.scatter(
                step.step, candidate.log_prob, color=FATE_COLORS[candidate.fate], s=40, zorder=2
            )
            if candidate.fate == "pruned":
                continue  # unlabelled grey dots: labelling all 2K candidates makes a blur
            label = candidate.tokens[-1]
            if candidate.score is not None:
                label += f"  ({candidate.score:.2f})"
            ax.annotate(
                label,
                (step.step, candidate.log_prob),
                xytext=(5, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
        previous = {tuple(c.tokens): c.log_prob for c in step.kept}
    for fate, color in FATE_COLORS.items():
        ax.scatter([], [], color=color, label=fate)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_xticks([s.step for s in steps])
    ax.set(xlabel="step", ylabel="total log-probability of the hypothesis")
    ax.grid(alpha=0.3)
    title = (
        f"Beam search, {trace.beam_size} beams, length penalty {trace.length_penalty}\n"
        f"best “{trace.translation}”"
    )
    if trace.finished:
        best = trace.finished[0]
        penalty = f"{len(best.tokens)}^{trace.length_penalty}"
        title += f" (score {best.score:.3f} = {best.log_prob:.2f} / {penalty})"
    blocked = [(step.step, choice) for step in steps for choice in step.blocked]
    if blocked:
        shown = ", ".join(
            f"step {number}: {''.join(c.beam_tokens)}+{c.token} ({c.probability:.2f})"
            for number, c in blocked[:3]
        )
        title += f"\nrepetitions blocked by the guard: {shown}"
    ax.set_title(title, fontsize=10)
    return figure
