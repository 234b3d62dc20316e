"""Export a run to a Hugging Face Transformers directory, tokenizer included.

Post-norm models become ``MarianMTModel``; pre-norm models become
``PegasusForConditionalGeneration`` (pre-norm layers, a final LayerNorm on both stacks, scaled
embeddings and non-interleaved sinusoidal positions, which :mod:`.hf_weights` accounts for).
The tokenizer is HF's ``MarianTokenizer`` over our SentencePiece model(s) with a vocabulary that
keeps SentencePiece's ids, so ``pad/unk/<s>/</s>`` stay ``0/1/2/3`` and ``</s>`` is appended to
every source exactly as :class:`~transformer_mt.decoding.translator.Translator` does.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.data.tokenizer import Tokenizer, model_files, pieces
from transformer_mt.data.vocabulary import VocabularyTokenizer
from transformer_mt.errors import ConfigError
from transformer_mt.export import load_transformer, require
from transformer_mt.export.hf_weights import hf_state_dict
from transformer_mt.export.target import staged_directory
from transformer_mt.model.config import TransformerConfig
from transformer_mt.model.transformer import Transformer

_TIED = ("embed_tokens.weight", "lm_head.weight", "shared.weight")
ARCHITECTURES = {"post": "MarianMTModel", "pre": "PegasusForConditionalGeneration"}


def check_exportable(config: TransformerConfig) -> None:
    """Refuse configurations that no HF architecture computes exactly."""
    if config.d_model % 2:
        raise ConfigError(f"HF export needs an even model.d_model, got {config.d_model}")
    if config.norm_position == "pre" and not config.share_embeddings:
        raise ConfigError(
            "HF has no pre-norm architecture with separate source and target embeddings: "
            "train with data.joint_vocab=true or model.norm_position=post to export to HF"
        )


def hf_config(config: TransformerConfig) -> Any:
    """The ``MarianConfig``/``PegasusConfig`` computing our model; dropout off (inference)."""
    transformers = require("transformers")
    config_class = transformers.MarianConfig
    extra: dict[str, Any] = {
        "decoder_vocab_size": config.tgt_vocab_size,
        "share_encoder_decoder_embeddings": config.share_embeddings,
    }
    if config.norm_position == "pre":
        config_class, extra = transformers.PegasusConfig, {}
    return config_class(
        vocab_size=config.src_vocab_size,
        d_model=config.d_model,
        encoder_layers=config.num_encoder_layers,
        decoder_layers=config.num_decoder_layers,
        encoder_attention_heads=config.num_heads,
        decoder_attention_heads=config.num_heads,
        encoder_ffn_dim=config.d_ff,
        decoder_ffn_dim=config.d_ff,
        activation_function=config.activation,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        max_position_embeddings=config.max_positions,
        scale_embedding=config.scale_embedding,
        pad_token_id=config.pad_id,
        bos_token_id=config.bos_id,
        eos_token_id=config.eos_id,
        decoder_start_token_id=config.bos_id,
        forced_eos_token_id=None,
        tie_word_embeddings=config.tie_output,
        tokenizer_class="MarianTokenizer",
        architectures=[ARCHITECTURES[config.norm_position]],
        **extra,
    )


def hf_model(model: Transformer, beam_size: int = 4) -> Any:
    """An eval-mode HF model with our weights (fp32)."""
    transformers = require("transformers")
    check_exportable(model.config)
    config = hf_config(model.config)
    model_class = getattr(transformers, ARCHITECTURES[model.config.norm_position])
    exported = model_class(config).eval()
    missing, unexpected = exported.load_state_dict(hf_state_dict(model), strict=False)
    # Tied copies (shared/embed_tokens/lm_head) may be reported either way; anything else is a bug.
    untied = [name for name in missing if not name.endswith(_TIED)]
    if untied or unexpected:
        raise RuntimeError(f"weight mapping out of date: missing {untied}, unexpected {unexpected}")
    exported.generation_config = generation_config(model.config, beam_size)
    return exported


def generation_config(config: TransformerConfig, beam_size: int) -> Any:
    """Decoding defaults matching ``Translator``: never emit ``<pad>``/``<s>``, stop at ``</s>``."""
    transformers = require("transformers")
    return transformers.GenerationConfig(
        decoder_start_token_id=config.bos_id,
        bos_token_id=config.bos_id,
        eos_token_id=config.eos_id,
        pad_token_id=config.pad_id,
        forced_eos_token_id=None,
        suppress_tokens=[config.pad_id, config.bos_id],
        num_beams=beam_size,
        length_penalty=1.0,
        early_stopping=True,
        max_length=config.max_positions,
    )


def write_tokenizer(tokenizer_dir: Path, out: Path, max_length: int) -> Any:
    """``MarianTokenizer`` files (source.spm, target.spm, vocab.json) from our tokenizer dir.

    The tokenizer is built from copies in a private temporary directory (removed afterwards),
    so nothing but the tokenizer's own files is written to ``out``. An imported model's
    tokenizer (:mod:`transformer_mt.data.vocabulary`) keeps its own vocabulary files.
    """
    transformers = require("transformers")
    tokenizer = Tokenizer.load(tokenizer_dir)
    if isinstance(tokenizer, VocabularyTokenizer):
        return _write_vocabulary_tokenizer(tokenizer, out, max_length)
    source_model, target_model, joint = model_files(tokenizer_dir)
    with tempfile.TemporaryDirectory(prefix="tokenizer-") as name:
        inputs = Path(name)
        files: dict[str, Any] = {}
        for side, model_file in (("source", source_model), ("target", target_model)):
            shutil.copyfile(model_file, inputs / f"{side}.spm")
            files[f"{side}_spm"] = str(inputs / f"{side}.spm")
            files[f"{side}_vocab"] = _write_vocab(model_file, inputs / f"{side}_vocab.json")
        tokenizer = transformers.MarianTokenizer(
            source_spm=files["source_spm"],
            target_spm=files["target_spm"],
            vocab=files["source_vocab"],
            target_vocab_file=None if joint else files["target_vocab"],
            separate_vocabs=not joint,
            model_max_length=max_length,
        )
        tokenizer.save_pretrained(out)
    return tokenizer


def _write_vocabulary_tokenizer(tokenizer: VocabularyTokenizer, out: Path, max_length: int) -> Any:
    """An imported model's ``MarianTokenizer``: its own models, vocabularies and specials."""
    transformers = require("transformers")
    with tempfile.TemporaryDirectory(prefix="tokenizer-") as name:
        inputs = Path(name)
        tokenizer.save(inputs)
        specials = tokenizer.specials
        exported = transformers.MarianTokenizer(
            source_spm=str(inputs / "source.spm"),
            target_spm=str(inputs / "target.spm"),
            vocab=str(inputs / "vocab.json"),
            target_vocab_file=None if tokenizer.joint else str(inputs / "target_vocab.json"),
            separate_vocabs=not tokenizer.joint,
            unk_token=specials.unk,
            eos_token=specials.eos,
            pad_token=specials.pad,
            model_max_length=max_length,
        )
        exported.save_pretrained(out)
    return exported


def _write_vocab(model_file: Path, path: Path) -> str:
    """HF's piece -> id map, keeping SentencePiece's ids."""
    vocab = {piece: i for i, piece in enumerate(pieces(model_file))}
    path.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    return str(path)


def export_hf(run_dir: Path, out: Path, *, beam_size: int = 4, overwrite: bool = False) -> Path:
    """Write an HF directory for ``run_dir``'s best weights into ``out`` and return ``out``.

    ``out`` must be missing or empty unless ``overwrite``; it is never the run directory or
    one of its files (:mod:`transformer_mt.export.target`).
    """
    run = RunDir(Path(run_dir))
    with staged_directory(Path(out), run, overwrite=overwrite) as staging:
        model = load_transformer(run)
        exported = hf_model(model, beam_size)
        exported.save_pretrained(staging)
        write_tokenizer(run.tokenizer_dir, staging, model.config.max_positions)
    return Path(out)
