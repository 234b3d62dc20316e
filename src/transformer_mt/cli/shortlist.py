"""``transformer-mt shortlist``: a run's vocabulary shortlist, for ``--shortlist`` decoding."""

from __future__ import annotations

from pathlib import Path

import click

from transformer_mt.cli.common import user_errors


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--top",
    default=50,
    show_default=True,
    help="Target tokens kept per source token (most specific co-occurrence first).",
)
@click.option(
    "--frequent",
    default=100,
    show_default=True,
    help="The most common target tokens, allowed in every batch.",
)
@click.option(
    "--max-pairs",
    default=1_000_000,
    show_default=True,
    help="Count at most this many training pairs (a seeded sample of larger corpora).",
)
@user_errors
def shortlist(run_dir: str, top: int, frequent: int, max_pairs: int) -> None:
    """Count RUN_DIR's training pairs into RUN_DIR/shortlist.safetensors.

    With it, `translate/evaluate --shortlist` score only the target tokens listed for each
    batch's source tokens: the output layer and softmax shrink, and int8 decoding of large
    batches gets faster.

    \b
    Examples:
      transformer-mt shortlist runs/quickstart
      transformer-mt evaluate runs/quickstart --dtype int8 --shortlist
    """
    from transformer_mt.commands.shortlist import make_shortlist

    path, made = make_shortlist(
        Path(run_dir),
        top=top,
        frequent=frequent,
        max_pairs=max_pairs,
        report=lambda message: click.echo(message, err=True),
    )
    listed = int((made.table >= 0).sum(dim=1).float().mean())
    click.echo(
        f"wrote {path}: {listed} candidates per source token on average, "
        f"{made.always.numel()} allowed always"
    )
