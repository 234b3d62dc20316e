"""``transformer-mt check``: decoding self-checks on a trained run."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from transformer_mt.cli.common import user_errors


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--src", type=click.Path(dir_okay=False), help="Sentences to check (default: validation)."
)
@click.option("--sentences", default=50, show_default=True, help="How many sentences to use.")
@click.option("--beam-size", default=4, show_default=True, help="Beam size for the beam checks.")
@click.option("--device", default="cpu", show_default=True, help="cpu | cuda | auto.")
@user_errors
def check(run_dir: str, src: str | None, sentences: int, beam_size: int, device: str) -> None:
    """Check that decoding keeps its invariants on this model; exit 1 if one fails.

    Greedy equals beam search with one beam; cached decoding equals full recomputation; a
    padded batch equals one sentence at a time; the top of the n-best list equals the best
    result; reported log-probabilities equal teacher-forced rescoring. Prints pass/fail with
    the largest difference found.

    \b
    Examples:
      transformer-mt check runs/quickstart
      transformer-mt check runs/quickstart --src my-sentences.en --beam-size 5
    """
    from transformer_mt.commands.check import check_run

    results = check_run(
        Path(run_dir),
        src=Path(src) if src else None,
        sentences=sentences,
        beam_size=beam_size,
        device=device,
    )
    click.echo(f"{'check':<24} {'result':<7} {'max difference':>15}  details")
    for result in results:
        verdict = "pass" if result.passed else "FAIL"
        click.echo(
            f"{result.name:<24} {verdict:<7} {result.max_difference:>15.3g}  {result.detail}"
        )
    if not all(result.passed for result in results):
        sys.exit(1)
