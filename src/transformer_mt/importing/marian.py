"""Read a Hugging Face ``MarianMTModel`` folder: its config, weights and tokenizer files.

Everything is read with plain JSON, safetensors, SentencePiece and (for ``pytorch_model.bin``)
``torch.load(weights_only=True)``; HF Transformers itself is not needed. Each problem is one
:class:`~transformer_mt.errors.UserError` line naming the file and field at fault.

MarianConfig's own defaults apply to fields a ``config.json`` leaves out (its class
declares them; e.g. ``scale_embedding`` is false unless set, as in HF).
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from transformer_mt.data.tokenizer import read_processor
from transformer_mt.data.vocabulary import SpecialTokens, VocabularyTokenizer, read_vocabulary
from transformer_mt.errors import DataError, UserError
from transformer_mt.model.config import TransformerConfig

CONFIG = "config.json"
SAFETENSORS = "model.safetensors"
PICKLED = "pytorch_model.bin"
TOKENIZER_CONFIG = "tokenizer_config.json"

# MarianConfig's defaults (transformers 4.x and 5.x) for the fields we read.
MARIAN_DEFAULTS: dict[str, Any] = {
    "vocab_size": 58101,
    "decoder_vocab_size": None,
    "max_position_embeddings": 1024,
    "encoder_layers": 12,
    "encoder_ffn_dim": 4096,
    "encoder_attention_heads": 16,
    "decoder_layers": 12,
    "decoder_ffn_dim": 4096,
    "decoder_attention_heads": 16,
    "activation_function": "gelu",
    "d_model": 1024,
    "dropout": 0.1,
    "attention_dropout": 0.0,
    "init_std": 0.02,
    "decoder_start_token_id": 58100,
    "scale_embedding": False,
    "pad_token_id": 58100,
    "eos_token_id": 0,
    "share_encoder_decoder_embeddings": True,
    "tie_word_embeddings": True,
}
ACTIVATIONS = {"swish": "swish", "silu": "silu", "gelu": "gelu", "relu": "relu"}

# Where HF's tied checkpoints keep a tensor saved once (looked up in this order).
ALIASES = {
    "model.encoder.embed_tokens.weight": "model.shared.weight",
    "model.decoder.embed_tokens.weight": "model.shared.weight",
    "lm_head.weight": "model.decoder.embed_tokens.weight",
}


@dataclass(frozen=True)
class HFFolder:
    """A MarianMT folder's paths; :meth:`file` refuses a missing one in one line."""

    path: Path

    def file(self, name: str, why: str = "") -> Path:
        path = self.path / name
        if not path.is_file():
            raise UserError(f"{path}: no such file{why}")
        return path

    def json(self, name: str) -> dict[str, Any]:
        path = self.file(name)
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise DataError(path, None, f"unreadable JSON ({error})") from None
        if not isinstance(values, dict):
            raise DataError(path, None, "not a JSON object")
        return values


def read_hf_config(folder: HFFolder) -> dict[str, Any]:
    """``config.json`` with MarianConfig's defaults filled in; other architectures refused."""
    values = folder.json(CONFIG)
    model_type = values.get("model_type")
    if model_type != "marian":
        raise UserError(
            f"{folder.path / CONFIG}: model_type is {model_type!r}; only MarianMT "
            "(model_type 'marian') imports"
        )
    architectures = values.get("architectures") or ["MarianMTModel"]
    if "MarianMTModel" not in architectures:
        raise UserError(
            f"{folder.path / CONFIG}: architectures is {architectures}; only MarianMTModel imports"
        )
    merged = {**MARIAN_DEFAULTS, **{k: v for k, v in values.items() if v is not None}}
    merged["decoder_vocab_size"] = merged["decoder_vocab_size"] or merged["vocab_size"]
    return merged


def _same(hf: dict[str, Any], encoder: str, decoder: str, where: Path) -> int:
    if hf[encoder] != hf[decoder]:
        raise UserError(
            f"{where}: {encoder}={hf[encoder]} but {decoder}={hf[decoder]}; "
            "our Transformer needs them equal"
        )
    return int(hf[encoder])


def _single_id(hf: dict[str, Any], name: str, where: Path) -> int:
    value = hf[name]
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, int) or isinstance(value, bool):
        raise UserError(f"{where}: {name} must be one token id, got {value!r}")
    return value


def transformer_config(
    hf: dict[str, Any], where: Path, *, output_bias: bool, shared: bool
) -> TransformerConfig:
    """The :class:`TransformerConfig` computing the MarianMT model ``hf`` describes;
    ``shared``: one embedding table for both sides (:func:`shares_embeddings`)."""
    activation = hf["activation_function"]
    if activation not in ACTIVATIONS:
        raise UserError(
            f"{where}: activation_function {activation!r} is not supported "
            f"(supported: {', '.join(ACTIVATIONS)})"
        )
    if hf["d_model"] % 2:
        raise UserError(f"{where}: d_model={hf['d_model']} is odd; sinusoidal positions need even")
    one_vocabulary = bool(hf["share_encoder_decoder_embeddings"])
    try:
        return TransformerConfig(
            src_vocab_size=hf["vocab_size"],
            tgt_vocab_size=hf["vocab_size"] if one_vocabulary else hf["decoder_vocab_size"],
            d_model=hf["d_model"],
            num_heads=_same(hf, "encoder_attention_heads", "decoder_attention_heads", where),
            num_encoder_layers=hf["encoder_layers"],
            num_decoder_layers=hf["decoder_layers"],
            d_ff=_same(hf, "encoder_ffn_dim", "decoder_ffn_dim", where),
            dropout=float(hf["dropout"]),
            attention_dropout=float(hf["attention_dropout"]),
            activation=ACTIVATIONS[activation],
            norm_position="post",
            positional_encoding="sinusoidal",
            max_positions=hf["max_position_embeddings"],
            share_embeddings=shared,
            tie_output=bool(hf["tie_word_embeddings"]),
            init="normal",
            init_std=float(hf["init_std"]),
            scale_embedding=bool(hf["scale_embedding"]),
            output_bias=output_bias,
            pad_id=_single_id(hf, "pad_token_id", where),
            bos_id=_single_id(hf, "decoder_start_token_id", where),
            eos_id=_single_id(hf, "eos_token_id", where),
        )
    except (ValueError, TypeError) as error:
        raise UserError(f"{where}: {error}") from None


def read_weights(folder: HFFolder) -> dict[str, torch.Tensor]:
    """``model.safetensors``, else ``pytorch_model.bin`` read with ``weights_only=True`` (no
    code is run; a pickle holding anything but tensors is refused)."""
    if (folder.path / SAFETENSORS).is_file():
        path = folder.path / SAFETENSORS
        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as error:
            raise DataError(path, None, f"unreadable safetensors file ({error})") from None
    path = folder.file(PICKLED, f" (nor {SAFETENSORS}): no weights to import")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise DataError(
            path, None, f"refused: not a plain tensor state dict ({first_line})"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(path, None, "refused: not a dict of tensors")
    return state


def shares_embeddings(hf: dict[str, Any], state: dict[str, torch.Tensor]) -> bool:
    """Whether the encoder and decoder read one embedding table, as HF loads the checkpoint.

    HF 5 ties both sides' tables to ``model.shared`` only with ``tie_word_embeddings``; without
    it each side keeps the table saved under its own name (HF 4 always shared them, and saved
    them equal), so the tensors decide.
    """
    if not hf["share_encoder_decoder_embeddings"]:
        return False
    if hf["tie_word_embeddings"]:
        return True
    tables = [
        state.get(name, state.get(ALIASES[name]))
        for name in ("model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight")
    ]
    return tables[0] is None or tables[1] is None or torch.equal(tables[0], tables[1])


def output_bias(state: dict[str, torch.Tensor]) -> torch.Tensor | None:
    """``final_logits_bias`` ``(V,)`` when the checkpoint has a non-zero one, else None."""
    bias = state.get("final_logits_bias")
    if bias is None or not bool(bias.any()):
        return None
    return bias.reshape(-1)


def read_tokenizer(
    folder: HFFolder, config: TransformerConfig, target_language: str | None
) -> VocabularyTokenizer:
    """``source.spm``, ``target.spm``, ``vocab.json`` (and ``target_vocab.json`` for separate
    vocabularies) as named in ``tokenizer_config.json``; a BPE folder (no ``.spm`` files) is
    refused, and so are special tokens whose ids contradict ``config``."""
    spm_hint = " (only SentencePiece tokenizers import, as in OPUS-MT)"
    settings = folder.json(TOKENIZER_CONFIG)
    models = [read_processor(folder.file(f"{side}.spm", spm_hint)) for side in ("source", "target")]
    source_vocabulary = read_vocabulary(folder.file("vocab.json"))
    target_vocabulary = source_vocabulary
    if settings.get("separate_vocabs"):
        target_vocabulary = read_vocabulary(folder.file("target_vocab.json"))
    start = {i: piece for piece, i in target_vocabulary.items()}.get(config.bos_id)
    if start is None:
        raise UserError(
            f"{folder.path / CONFIG}: decoder_start_token_id={config.bos_id} "
            "is not in the vocabulary"
        )
    specials = SpecialTokens(
        pad=str(settings.get("pad_token") or "<pad>"),
        unk=str(settings.get("unk_token") or "<unk>"),
        eos=str(settings.get("eos_token") or "</s>"),
        start=start,
    )
    tokenizer = VocabularyTokenizer(
        models[0], models[1], source_vocabulary, target_vocabulary, specials=specials
    )
    _check_ids(tokenizer, config, folder.path)
    # Sized as the model (HF's vocab_size may exceed the vocabulary): every id has an entry.
    tokenizer = VocabularyTokenizer(
        models[0],
        models[1],
        source_vocabulary,
        target_vocabulary,
        specials=specials,
        sizes=(config.src_vocab_size, config.tgt_vocab_size),
    )
    languages = tokenizer.target_languages
    if target_language is None and len(languages) > 1:
        shown = ", ".join(languages[:8]) + (", ..." if len(languages) > 8 else "")
        raise UserError(
            f"{folder.path}: a multi-target model ({len(languages)} language tokens: {shown}); "
            "choose one with --target-language"
        )
    default = languages[0] if languages else None  # one language token: it is the default
    return tokenizer.with_target_language(target_language or default)


def _check_ids(tokenizer: VocabularyTokenizer, config: TransformerConfig, where: Path) -> None:
    """The vocabulary's special ids and sizes agree with ``config.json``."""
    for name, ours, theirs in (
        ("pad_token_id", tokenizer.pad_id, config.pad_id),
        ("eos_token_id", tokenizer.eos_id, config.eos_id),
    ):
        if ours != theirs:
            raise UserError(f"{where / CONFIG}: {name}={theirs} but the vocabulary says {ours}")
    for side, size, limit in (
        ("vocab.json", tokenizer.source_vocab_size, config.src_vocab_size),
        ("target vocabulary", tokenizer.target_vocab_size, config.tgt_vocab_size),
    ):
        if size > limit:
            raise UserError(f"{where}: {side} has ids up to {size - 1} but vocab_size is {limit}")
