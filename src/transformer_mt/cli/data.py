"""``transformer-mt prepare``: clean and tokenize a config's corpus into a token store."""

from __future__ import annotations

import click

from transformer_mt.cli.common import user_errors


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value, e.g. --set data.vocab_size=16000 (repeatable).",
)
@user_errors
def prepare(config: str, overrides: tuple[str, ...]) -> None:
    """Prepare the data of a YAML CONFIG (a path or a preset name) for training.

    Reads the corpus (TSV or two line-aligned files, gzip or not, several files per split),
    cleans it (data.clean, with a report), trains the tokenizer on a sample, tokenizes on every
    core and writes a memory-mapped token store (data.store, or a folder in the cache).
    `train` then reuses it: it tokenizes nothing.

    \b
    Examples:
      transformer-mt prepare configs/base.yaml --set data.dataset=null \\
          --set data.train='[train.en.gz, train.zh.gz]' --set data.valid=valid.tsv
    """
    from transformer_mt.commands.prepare import prepare as run_prepare
    from transformer_mt.config.loading import load_config

    store = run_prepare(
        load_config(config, overrides), report=lambda line: click.echo(line, err=True)
    )
    click.echo(str(store.path))
