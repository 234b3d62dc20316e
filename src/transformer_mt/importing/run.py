"""``transformer-mt import-hf``: a MarianMT folder becomes a run directory.

The run directory is an ordinary one (``model.json``, ``tokenizer/``, ``model.safetensors``,
``config.yaml``), so ``translate``, ``evaluate``, ``explain``, ``check``, ``serve``, ``export``
and ``train --init-from`` use it unchanged; ``import.json`` records where it came from. It is
built beside ``RUN_DIR`` and renamed into place when complete.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.artifacts.weights import save_weights
from transformer_mt.config.decoding import DecodingOptions
from transformer_mt.config.experiment import DataConfig, ExperimentConfig, ModelConfig
from transformer_mt.data.vocabulary import VocabularyTokenizer
from transformer_mt.errors import UserError
from transformer_mt.export.hf_weights import load_hf_state_dict
from transformer_mt.export.target import staged_directory
from transformer_mt.importing.marian import (
    ALIASES,
    CONFIG,
    HFFolder,
    output_bias,
    read_hf_config,
    read_tokenizer,
    read_weights,
    shares_embeddings,
    transformer_config,
)
from transformer_mt.model.config import TransformerConfig
from transformer_mt.model.transformer import Transformer

IMPORT_RECORD = "import.json"


def import_hf(
    hf_dir: Path,
    run_dir: Path,
    *,
    target_language: str | None = None,
    overwrite: bool = False,
    report: Callable[[str], None] = print,
) -> RunDir:
    """Convert the MarianMT folder ``hf_dir`` into the run directory ``run_dir``.

    ``target_language`` (``cmn_Hans`` or ``>>cmn_Hans<<``) is required for a model with several
    language tokens; it is stored in the run and put before every source.
    """
    folder = HFFolder(Path(hf_dir))
    if not folder.path.is_dir():
        raise UserError(f"{folder.path}: no such directory")
    hf = read_hf_config(folder)
    state = read_weights(folder)
    bias = output_bias(state)
    config = transformer_config(
        hf, folder.path / CONFIG, output_bias=bias is not None, shared=shares_embeddings(hf, state)
    )
    tokenizer = read_tokenizer(folder, config, target_language)
    model = _model(config, state, folder.path)
    with staged_directory(Path(run_dir), RunDir(folder.path), overwrite=overwrite) as staging:
        staged = RunDir(staging)
        staged.write_config(_experiment(hf, config, Path(run_dir), folder))
        staged.write_model_config(config)
        tokenizer.save(staged.tokenizer_dir)
        save_weights(model, staged.weights)
        record = _record(hf, folder, tokenizer)
        (staging / IMPORT_RECORD).write_text(json.dumps(record, indent=2) + "\n")
    report(
        f"imported {folder.path} ({config.num_encoder_layers}+{config.num_decoder_layers} layers, "
        f"d {config.d_model}, vocabulary {config.tgt_vocab_size}"
        + (f", target language {tokenizer.target_language}" if tokenizer.target_language else "")
        + f") into {run_dir}"
    )
    return RunDir(Path(run_dir))


def _model(config: TransformerConfig, state: dict[str, torch.Tensor], where: Path) -> Transformer:
    """Our Transformer holding the checkpoint's weights (residual dimension un-permuted)."""
    with torch.random.fork_rng(devices=[]):  # initial weights are overwritten: no global draw
        model = Transformer(config)
    try:
        load_hf_state_dict(model, state, ALIASES)
    except KeyError as error:
        raise UserError(f"{where}: the weights lack {error.args[0]}") from None
    except ValueError as error:
        raise UserError(f"{where}: {error}") from None
    return model.eval()


def _experiment(
    hf: dict[str, Any], config: TransformerConfig, run_dir: Path, folder: HFFolder
) -> ExperimentConfig:
    """A ``config.yaml`` describing the imported model: its architecture, HF's decoding
    defaults (beams, length penalty) for ``evaluate``, and the built-in data in the model's
    direction (en-zh unless ``tokenizer_config.json`` says zh -> en) for ``evaluate --split``."""
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    model = ModelConfig(**{k: v for k, v in config.to_dict().items() if k in fields})
    settings = folder.json("tokenizer_config.json")
    languages = (settings.get("source_lang"), settings.get("target_lang"))
    direction = "zh-en" if languages == ("zh", "en") else "en-zh"
    evaluation = DecodingOptions(
        beam_size=int(hf.get("num_beams") or 4), length_penalty=float(hf.get("length_penalty", 1.0))
    )
    return ExperimentConfig(
        run_dir=str(run_dir),
        data=DataConfig(direction=direction),
        model=model,
        evaluation=evaluation,
    )


def _record(hf: dict[str, Any], folder: HFFolder, tokenizer: VocabularyTokenizer) -> dict[str, Any]:
    """Provenance and what was not carried over (for the user to read)."""
    return {
        "imported_from": str(folder.path.resolve()),
        "architecture": "MarianMTModel",
        "target_language": tokenizer.target_language,
        "target_languages": tokenizer.target_languages,
        "hf_generation": {
            name: hf.get(name)
            for name in ("num_beams", "max_length", "length_penalty", "bad_words_ids")
        },
        "activation_dropout": hf.get("activation_dropout", 0.0),
    }
