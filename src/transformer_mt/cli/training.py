"""``transformer-mt train``, ``average`` and ``plot``: making models and looking at their runs."""

from __future__ import annotations

from pathlib import Path

import click

from transformer_mt.cli.common import user_errors
from transformer_mt.errors import UserError


def _stderr(message: str) -> None:
    click.echo(message, err=True)


@click.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value, e.g. --set training.lr=5e-4 (repeatable).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(file_okay=False),
    help="Continue the run in this directory from its latest checkpoint.",
)
@click.option(
    "--init-from",
    "init_from",
    type=click.Path(file_okay=False),
    help="Fine-tune: start from this run's (or an imported model's) weights and tokenizer, "
    "with a fresh optimizer and schedule (same as --set training.init_from=RUN_DIR).",
)
@user_errors
def train(
    config: str | None,
    overrides: tuple[str, ...],
    overwrite: bool,
    resume_dir: str | None,
    init_from: str | None,
) -> None:
    """Train a model as described by a YAML CONFIG (a path or a preset name).

    \b
    Examples:
      transformer-mt train quickstart --set training.max_minutes=5 --set run_dir=runs/five
      transformer-mt train --resume runs/five --set training.max_minutes=10
      transformer-mt train bible.yaml --init-from runs/quickstart   # fine-tune
      torchrun --nproc-per-node 2 -m transformer_mt train quickstart   # 2 workers
    """
    from transformer_mt.commands.finetune import model_keys
    from transformer_mt.commands.train import train as run_training
    from transformer_mt.config.loading import load_config
    from transformer_mt.training.resume import resume_config

    if resume_dir is not None:
        if overwrite or init_from:
            raise UserError("--resume excludes --overwrite and --init-from")
        experiment = resume_config(resume_dir, config, overrides)
        run_training(experiment, resume=True, report=_stderr)
        return
    if config is None:
        raise UserError("give a CONFIG (a YAML file or a preset name) or --resume RUN_DIR")
    if init_from is not None:
        overrides = (*overrides, f"training.init_from={init_from}")
    run_training(
        load_config(config, overrides),
        overwrite=overwrite,
        report=_stderr,
        model_keys=model_keys(config, overrides),
    )


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--last",
    default=None,
    type=click.IntRange(min=1),
    help="Average the last N checkpoints in RUN_DIR/checkpoints (default: all kept).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    help="Where to write the average (default RUN_DIR/averaged.safetensors).",
)
@click.argument("checkpoints", nargs=-1, type=click.Path(dir_okay=False))
@user_errors
def average(
    run_dir: str, last: int | None, output: str | None, checkpoints: tuple[str, ...]
) -> None:
    """Average the weights of several checkpoints of RUN_DIR into one model.

    \b
    Translate with it:  transformer-mt translate RUN_DIR --weights RUN_DIR/averaged.safetensors
    """
    from transformer_mt.training.checkpoint_average import average_run_checkpoints

    written, used = average_run_checkpoints(
        Path(run_dir),
        [Path(c) for c in checkpoints],
        last=last,
        output=Path(output) if output else None,
    )
    if last is not None and len(used) < last:
        _stderr(f"warning: --last {last}: the run keeps only {len(used)} checkpoint(s)")
    _stderr(f"averaged {len(used)} checkpoints ({', '.join(p.name for p in used)}) -> {written}")


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    help="PNG file to write (default RUN_DIR/training.png).",
)
@user_errors
def plot(run_dir: str, output: str | None) -> None:
    """Draw the training curves of RUN_DIR (loss, learning rate, tokens/s, BLEU) to a PNG."""
    from transformer_mt.training.plot import plot_run

    path = plot_run(Path(run_dir), Path(output) if output else None)
    click.echo(str(path))
