"""``transformer-mt``: train, average, plot, translate, evaluate, check, explain, serve, export,
import-hf.

User mistakes (bad files, unknown config keys, missing run directories) print one line
``error: ...`` on stderr and exit with status 2; they never show a traceback.
"""

from __future__ import annotations

import click

from transformer_mt import __version__
from transformer_mt.cli.check import check
from transformer_mt.cli.common import Commands
from transformer_mt.cli.data import prepare
from transformer_mt.cli.decode import evaluate, translate
from transformer_mt.cli.explain import explain
from transformer_mt.cli.export import export
from transformer_mt.cli.importing import import_hf
from transformer_mt.cli.serve import serve
from transformer_mt.cli.shortlist import shortlist
from transformer_mt.cli.training import average, plot, train


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="transformer-mt")
def cli() -> None:
    """Train Transformer translation models from scratch and translate with them.

    \b
    Quick start (English -> Chinese on the built-in data, ~20 min on 2 CPU cores):
      transformer-mt train configs/quickstart.yaml
      transformer-mt evaluate runs/quickstart --split test
      echo "Hello world" | transformer-mt translate runs/quickstart
    """


cli.add_command(prepare)
cli.add_command(train)
cli.add_command(average)
cli.add_command(plot)
cli.add_command(translate)
cli.add_command(evaluate)
cli.add_command(shortlist)
cli.add_command(check)
cli.add_command(explain)
cli.add_command(serve)
cli.add_command(export)
cli.add_command(import_hf)


def main() -> None:
    cli(prog_name="transformer-mt")
