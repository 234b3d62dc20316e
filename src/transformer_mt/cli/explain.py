"""``transformer-mt explain``: figures and an HTML report of what a trained model does."""

from __future__ import annotations

from pathlib import Path

import click

from transformer_mt.cli.common import user_errors
from transformer_mt.errors import UserError
from transformer_mt.explain.sections import SECTIONS


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--source", default="Hello world", show_default=True, help="Sentence to explain.")
@click.option(
    "--target", default=None, help="Its reference translation (default: the model's own)."
)
@click.option(
    "--out", type=click.Path(file_okay=False), help="Output directory (default: RUN_DIR/explain)."
)
@click.option(
    "--only",
    multiple=True,
    type=click.Choice(SECTIONS),
    help="Compute only these sections (repeatable; default: all).",
)
@click.option(
    "--sentences",
    default=200,
    show_default=True,
    help="Held-out pairs for exposure bias (from the run's validation split or --src/--ref).",
)
@click.option("--src", type=click.Path(dir_okay=False), help="Source file for exposure bias.")
@click.option("--ref", type=click.Path(dir_okay=False), help="Reference file for exposure bias.")
@click.option("--beam-size", default=4, show_default=True, help="Beams in the beam trace.")
@click.option("--top-k", default=5, show_default=True, help="Next-token choices per greedy step.")
@click.option("--device", default="cpu", show_default=True, help="cpu | cuda | auto.")
@user_errors
def explain(
    run_dir: str,
    source: str,
    target: str | None,
    out: str | None,
    only: tuple[str, ...],
    sentences: int,
    src: str | None,
    ref: str | None,
    beam_size: int,
    top_k: int,
    device: str,
) -> None:
    """Show every concept of the Transformer on a trained model, as PNGs and one HTML report.

    Multi-head dimensions and parameters; the three attention masks of a real padded batch;
    the teacher-forcing shift with the model's probabilities; every layer's and head's attention
    and the soft alignment; greedy and beam search step by step; exposure bias (teacher forced
    versus free running, and injected mistakes) on held-out pairs.

    \b
    Examples:
      transformer-mt explain runs/quickstart --source "Hello world" --target "你好世界"
      transformer-mt explain runs/quickstart --only attention --only trace --out /tmp/x
    """
    from transformer_mt.artifacts.rundir import RunDir
    from transformer_mt.decoding.translator import Translator
    from transformer_mt.explain.explanation import explain as compute
    from transformer_mt.explain.masks_view import pick_display_pairs
    from transformer_mt.explain.report import write_report
    from transformer_mt.runtime import configure_cpu

    if sentences < 1 or beam_size < 1 or top_k < 1:
        raise UserError("--sentences, --beam-size and --top-k must be at least 1")
    if (src is None) != (ref is None):
        raise UserError("--src and --ref go together")
    configure_cpu(None)
    translator = Translator.load(run_dir, device=device)

    def held_out() -> list[tuple[str, str]]:
        return _held_out_pairs(Path(run_dir), src, ref)

    def mask_pairs() -> list[tuple[str, str]]:
        try:
            return pick_display_pairs(held_out(), translator, count=2)
        except UserError:  # no validation split: the example sentence alone
            return []

    explanation = compute(
        translator,
        source,
        target,
        sections=only or SECTIONS,
        mask_pairs=mask_pairs,
        exposure_pairs=lambda: held_out()[:sentences],
        top_k=top_k,
        beam_size=beam_size,
        progress=True,
    )
    directory = Path(out) if out else RunDir(Path(run_dir)).explain_dir
    paths = write_report(explanation, directory, warn=lambda m: click.echo(m, err=True))
    _summarise(explanation)
    click.echo(f"wrote {len(paths)} files to {directory}; open {directory / 'report.html'}")


def _held_out_pairs(run_dir: Path, src: str | None, ref: str | None) -> list[tuple[str, str]]:
    from transformer_mt.commands.evaluate import file_pairs, split_pairs

    if src is not None and ref is not None:
        sources, references = file_pairs(Path(src), Path(ref))
    else:
        sources, references = split_pairs(run_dir, "valid", report=lambda m: None)
    return list(zip(sources, references, strict=True))


def _summarise(explanation) -> None:  # type: ignore[no-untyped-def]  # Explanation, lazily imported
    if explanation.greedy is not None:
        click.echo(f"greedy: {explanation.greedy.translation}")
    if explanation.beam is not None:
        click.echo(f"beam {explanation.beam.beam_size}: {explanation.beam.translation}")
    if explanation.shift is not None:
        shift = explanation.shift
        click.echo(
            f"teacher forcing: loss {shift.loss:.3f} nats/token, accuracy {shift.accuracy:.0%}"
        )
    if explanation.exposure is not None:
        x = explanation.exposure
        click.echo(
            f"exposure bias on {x.sentences} pairs: token accuracy "
            f"{x.teacher_forced.overall_accuracy:.1%} teacher forced, "
            f"{x.free_running.overall_accuracy:.1%} free running; "
            + ", ".join(f"{i.injected} injected {i.accuracy:.1%}" for i in x.injections)
        )
