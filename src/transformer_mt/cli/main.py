"""``transformer-mt``: train, translate, evaluate.

User mistakes (bad files, unknown config keys, missing run directories) print one line
``error: ...`` on stderr and exit with status 2; they never show a traceback.
"""

from __future__ import annotations

import click

from transformer_mt import __version__
from transformer_mt.cli.check import check
from transformer_mt.cli.common import user_errors
from transformer_mt.cli.decode import evaluate, translate
from transformer_mt.cli.serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="transformer-mt")
def cli() -> None:
    """Train Transformer translation models from scratch and translate with them.

    \b
    Quick start (English -> Chinese on the built-in data, ~20 min on 2 CPU cores):
      transformer-mt train configs/quickstart.yaml
      transformer-mt evaluate runs/quickstart --split test
      echo "Hello world" | transformer-mt translate runs/quickstart
    """


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value, e.g. --set training.lr=5e-4 (repeatable).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
@user_errors
def train(config: str, overrides: tuple[str, ...], overwrite: bool) -> None:
    """Train a model as described by a YAML CONFIG.

    \b
    Example:
      transformer-mt train configs/quickstart.yaml --set training.max_minutes=5 \\
          --set run_dir=runs/five-minutes
    """
    from transformer_mt.training.config import load_config
    from transformer_mt.training.run import train as run_training

    run_training(load_config(config, overrides), overwrite=overwrite, report=_stderr)


def _stderr(message: str) -> None:
    click.echo(message, err=True)


cli.add_command(translate)
cli.add_command(evaluate)
cli.add_command(check)
cli.add_command(serve)


def main() -> None:
    cli(prog_name="transformer-mt")
