"""``transformer-mt import-hf``: start from a model trained elsewhere (HF MarianMT / OPUS-MT)."""

from __future__ import annotations

from pathlib import Path

import click

from transformer_mt.cli.common import user_errors


@click.command("import-hf")
@click.argument("hf_dir", type=click.Path(file_okay=False))
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option(
    "--target-language",
    metavar="LANG",
    help="For multi-target models: the language token put before every source "
    "(cmn_Hans or >>cmn_Hans<<); a sentence starting with its own >>xx<< keeps it.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace RUN_DIR if it is a non-empty directory.",
)
@user_errors
def import_hf(hf_dir: str, run_dir: str, target_language: str | None, overwrite: bool) -> None:
    """Convert a local Hugging Face MarianMT folder (e.g. an OPUS-MT download) into RUN_DIR.

    HF_DIR needs config.json, model.safetensors (or pytorch_model.bin, read without running
    code), source.spm, target.spm, vocab.json and tokenizer_config.json. Every command then
    uses RUN_DIR as a run of its own; fine-tune it with 'train CONFIG --init-from RUN_DIR'.

    \b
    Examples:
      transformer-mt import-hf opus-mt-en-zh runs/opus-en-zh --target-language cmn_Hans
      echo "Hello world" | transformer-mt translate runs/opus-en-zh
    """
    from transformer_mt.importing.run import import_hf as run_import

    run_import(
        Path(hf_dir),
        Path(run_dir),
        target_language=target_language,
        overwrite=overwrite,
        report=lambda message: click.echo(message, err=True),
    )
