"""``transformer-mt export``: write a trained run in another engine's format."""

from __future__ import annotations

from pathlib import Path

import click

from transformer_mt.cli.common import user_errors
from transformer_mt.errors import UserError


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path())  # a file there is refused by the export itself
@click.option(
    "--format",
    "target_format",
    type=click.Choice(["hf", "ctranslate2"]),
    required=True,
    help="hf: Hugging Face Transformers directory; ctranslate2: CTranslate2 model.",
)
@click.option(
    "--quantization",
    type=click.Choice(["int8", "int8_float32", "int16", "float32"]),
    help="CTranslate2 weight type (default: float32).",
)
@click.option("--beam-size", default=4, show_default=True, help="HF default num_beams.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace OUT if it is a non-empty directory (never the run directory or its files).",
)
@user_errors
def export(
    run_dir: str,
    out: str,
    target_format: str,
    quantization: str | None,
    beam_size: int,
    overwrite: bool,
) -> None:
    """Export RUN_DIR's best weights and tokenizer to OUT (needs transformer-mt[export]).

    OUT must be missing or empty unless --overwrite; the export is written beside it and
    renamed into place when complete.

    \b
    Examples:
      transformer-mt export runs/quickstart --format hf exported/hf
      transformer-mt export runs/quickstart --format ctranslate2 exported/ct2 --quantization int8
    """
    if target_format == "hf":
        if quantization is not None:
            raise UserError("--quantization applies to --format ctranslate2 only")
        from transformer_mt.export.hf import export_hf

        written = export_hf(Path(run_dir), Path(out), beam_size=beam_size, overwrite=overwrite)
    else:
        from transformer_mt.export.ct2 import export_ctranslate2

        written = export_ctranslate2(
            Path(run_dir), Path(out), quantization=quantization, overwrite=overwrite
        )
    click.echo(f"exported {run_dir} ({target_format}) to {written}", err=True)
