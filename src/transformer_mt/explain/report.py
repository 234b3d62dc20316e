"""Write an :class:`Explanation` as PNG figures, one self-contained HTML report and JSON.

The HTML inlines every figure as a base64 PNG and uses no external asset (no scripts, styles or
fonts from the network), so it can be mailed or opened offline.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from html import escape
from pathlib import Path

from matplotlib.figure import Figure

from transformer_mt.explain import figures, trace_figures
from transformer_mt.explain.explanation import Explanation

Warn = Callable[[str], None]

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
img { max-width: 100%; border: 1px solid #eee; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f4f4f4; } .kept { color: #2ca02c; } .finished { color: #1f5fbf; }
.pruned { color: #999; } .note { color: #555; font-size: 0.9em; }
"""


def figure_files(explanation: Explanation) -> Iterator[tuple[str, Callable[..., Figure], tuple]]:
    """``(file name, draw function, arguments)`` of every figure this explanation has."""
    e = explanation
    if e.dimensions is not None:
        yield "dimensions.png", figures.draw_dimensions, (e.dimensions,)
    if e.masks is not None:
        yield "masks.png", figures.draw_masks, (e.masks,)
    if e.shift is not None:
        yield "teacher-forcing.png", figures.draw_shift, (e.shift,)
    if e.attention is not None:
        for kind in ("encoder", "decoder_self", "cross"):
            name = f"attention-{kind.replace('_', '-')}.png"
            yield name, figures.draw_attention, (e.attention, kind)
        yield "alignment.png", figures.draw_alignment, (e.attention,)
    if e.greedy is not None:
        yield "greedy-trace.png", trace_figures.draw_greedy_trace, (e.greedy,)
    if e.beam is not None:
        yield "beam-trace.png", trace_figures.draw_beam_trace, (e.beam,)
    if e.exposure is not None:
        yield "exposure-bias.png", figures.draw_exposure, (e.exposure,)


def write_report(explanation: Explanation, out_dir: Path, warn: Warn | None = None) -> list[Path]:
    """Write the PNGs, ``report.html`` and ``explanation.json`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    images: dict[str, bytes] = {}
    written = []
    for name, draw, args in figure_files(explanation):
        images[name] = figures.png_bytes(draw, *args, warn=warn)
        (out_dir / name).write_bytes(images[name])
        written.append(out_dir / name)
    report = out_dir / "report.html"
    report.write_text(render_html(explanation, images), encoding="utf-8")
    data = out_dir / "explanation.json"
    data.write_text(json.dumps(explanation.to_dict(), ensure_ascii=False), encoding="utf-8")
    return [*written, report, data]


def render_html(explanation: Explanation, images: dict[str, bytes]) -> str:
    """The report as one HTML document with the ``images`` (PNG bytes by file name) inlined."""
    e = explanation
    target = e.target if e.target is not None else "(the model's greedy translation)"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>transformer-mt explain: {escape(e.source)}</title><style>{STYLE}</style>",
        "</head><body><h1>Inside the Transformer</h1>",
        f"<p>Source: <b>{escape(e.source)}</b> &nbsp; Target: <b>{escape(target)}</b></p>",
        "<p class='note'>Every number below is computed from the trained model and real "
        "batches by the project's own code (masks, batching, attention, search).</p>",
    ]
    for section in _sections(e):
        parts.append(section)
    parts.append("</body></html>")
    html = "\n".join(parts)
    for name, data in images.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        html = html.replace(f"src='{name}'", f"src='{uri}'")
    return html


def _img(name: str, alt: str) -> str:
    return f"<p><img src='{name}' alt='{escape(alt)}'></p>"


def _table(header: list[str], rows: list[list[object]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        css = f" class='{classes[index]}'" if classes else ""
        cells = "".join(f"<td>{escape(str(cell))}</td>" for cell in row)
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _sections(e: Explanation) -> Iterator[str]:
    if e.dimensions is not None:
        d = e.dimensions
        yield (
            "<h2>Multi-head dimensions</h2>"
            f"<p>E = {d.d_model}, h = {d.num_heads}, so each head works in d = E / h = "
            f"{d.head_dim} dimensions. {d.total_parameters:,} parameters in all (shared "
            "tensors counted once).</p>"
            + _table(
                ["tensor", "shape", f"for N = {d.tokens}"],
                [[s.name, s.formula, " × ".join(map(str, s.shape))] for s in d.shapes],
            )
            + _img("dimensions.png", "parameters per block")
            + _table(["block", "parameters"], [[b.name, f"{b.parameters:,}"] for b in d.blocks])
        )
    if e.masks is not None:
        yield (
            "<h2>The three attention masks</h2><p>One padded batch as the trainer builds it. "
            "Encoder self-attention hides source padding; the decoder's mask is causal (no "
            "peeking at later tokens) and hides target padding; cross-attention hides source "
            "padding from every target position. A padded decoder row keeps its diagonal so "
            "that no softmax row is empty; the loss ignores those rows.</p>"
            + _img("masks.png", "attention masks")
        )
    if e.shift is not None:
        s = e.shift
        yield (
            "<h2>Teacher forcing: the shift</h2><p>The decoder reads <code>&lt;s&gt; + y</code>"
            " and predicts <code>y + &lt;/s&gt;</code>: all positions in one parallel pass. "
            f"Mean loss {s.loss:.3f} nats/token, accuracy {s.accuracy:.0%}.</p>"
            + _table(
                ["position", "decoder input", "target", "p(target)", "model's top token"],
                [
                    [
                        r.position,
                        r.decoder_input,
                        r.target,
                        f"{r.probability:.4f}",
                        f"{r.predicted} ({r.predicted_probability:.3f})",
                    ]
                    for r in s.rows
                ],
            )
            + _img("teacher-forcing.png", "teacher forcing")
        )
    if e.attention is not None:
        yield (
            "<h2>Attention</h2><p>Every layer and head, from one teacher-forced pass. Rows are "
            "queries and sum to 1; masked cells are exactly 0.</p>"
            + _img("attention-encoder.png", "encoder self-attention")
            + _img("attention-decoder-self.png", "decoder self-attention")
            + _img("attention-cross.png", "cross-attention")
            + "<h3>Soft alignment</h3><p>The last decoder layer's cross-attention averaged over "
            "heads: where the model looks in the source while predicting each target piece.</p>"
            + _img("alignment.png", "alignment")
        )
    if e.greedy is not None:
        g = e.greedy
        yield (
            "<h2>Autoregressive decoding, step by step</h2><p>Greedy search: start from "
            "<code>&lt;s&gt;</code>, feed back the chosen token, stop at "
            f"<code>&lt;/s&gt;</code>. Result: <b>{escape(g.translation)}</b> (log-probability "
            f"{g.log_prob:.3f}).</p>"
            + _table(
                ["step", "decoder input so far", "top next tokens", "chosen"],
                [
                    [
                        st.step,
                        " ".join(st.decoder_input),
                        ", ".join(f"{c.token} {c.probability:.3f}" for c in st.top),
                        st.chosen.token,
                    ]
                    for st in g.steps
                ],
            )
            + _img("greedy-trace.png", "greedy trace")
        )
    if e.beam is not None:
        yield _beam_section(e)
    if e.exposure is not None:
        x = e.exposure
        yield (
            "<h2>Exposure bias (training-inference mismatch)</h2><p>Training always shows the "
            "decoder the reference prefix; translation shows it the model's own output. On "
            f"{x.sentences} held-out pairs: token accuracy {x.teacher_forced.overall_accuracy:.1%}"
            f" teacher forced vs {x.free_running.overall_accuracy:.1%} free running (greedy "
            "against the reference, position by position).</p>"
            + _img("exposure-bias.png", "exposure bias")
            + _table(
                ["wrong tokens injected", "token accuracy", "loss (nats/token)"],
                [[i.injected, f"{i.accuracy:.1%}", f"{i.loss:.3f}"] for i in x.injections],
            )
            + "<p class='note'>Injected tokens are plausible mistakes: the model's most probable"
            " wrong token at that position, at seeded random positions.</p>"
        )


def _beam_section(e: Explanation) -> str:
    b = e.beam
    assert b is not None
    rows, classes = [], []
    for step in b.steps:
        for c in step.candidates:
            score = f"{c.score:.3f}" if c.score is not None else ""
            rows.append([step.step, " ".join(c.tokens), f"{c.log_prob:.3f}", c.fate, score])
            classes.append(c.fate)
    return (
        f"<h2>Beam search</h2><p>{b.beam_size} beams, length penalty {b.length_penalty}: "
        "each step extends every beam by every token and keeps the best; hypotheses ending "
        "in <code>&lt;/s&gt;</code> are finished and ranked by log-probability / "
        f"length<sup>{b.length_penalty}</sup>. Best: <b>{escape(b.translation)}</b>.</p>"
        + _img("beam-trace.png", "beam trace")
        + "<h3>Finished hypotheses</h3>"
        + _table(
            ["hypothesis", "log-probability", "length", "score"],
            [
                [" ".join(h.tokens), f"{h.log_prob:.3f}", len(h.tokens), f"{h.score:.3f}"]
                for h in b.finished
            ],
        )
        + "<h3>Candidates at each step</h3>"
        + _table(["step", "hypothesis", "log-probability", "fate", "score"], rows, classes)
    )
