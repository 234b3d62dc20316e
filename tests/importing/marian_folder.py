"""OPUS-MT-like MarianMT folders built locally: random weights, real SentencePiece models.

The layout is OPUS-MT's: ``source.spm`` and ``target.spm`` trained on the built-in Tatoeba data
(English and Chinese), one ``vocab.json`` over both (``</s>`` = 0, ``<unk>`` = 1, then the
pieces, the language tokens, ``<pad>`` last), ``config.json`` with ``decoder_start_token_id``
= ``pad_token_id``, a non-zero ``final_logits_bias``, and ``tokenizer_config.json``, all written
by HF's own ``save_pretrained``. Weights are drawn larger than HF's initialisation so that the
random model's choices are decisive (no near-ties for float noise to flip).
"""

from __future__ import annotations

import functools
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sentencepiece as spm
import torch

from transformer_mt.data.corpus import load_splits
from transformer_mt.data.pairs import SentencePair

LANGUAGES = (">>cmn_Hans<<", ">>cmn_Hant<<", ">>yue_Hans<<")


@dataclass(frozen=True)
class MarianSpec:
    """One tiny MarianMT configuration (OPUS-MT's defaults unless overridden)."""

    encoder_layers: int = 2
    decoder_layers: int = 1
    activation: str = "swish"
    tied: bool = True  # tie_word_embeddings
    shared: bool = True  # share_encoder_decoder_embeddings (one vocab.json)
    scale_embedding: bool = True
    languages: tuple[str, ...] = LANGUAGES[:1]
    seed: int = 0
    eos_bias: float = 6.0  # added to the </s> logit bias: some outputs end, others run to the limit
    extra: dict[str, Any] = field(default_factory=dict)


@functools.cache
def tatoeba() -> tuple[list[SentencePair], list[SentencePair]]:
    """The built-in data's training and test pairs (English -> Chinese)."""
    splits = load_splits(dataset="tatoeba-en-zh", direction="en-zh", report=lambda _: None)
    return splits.train, splits.test


@functools.cache
def spm_model(side: int, vocab_size: int) -> bytes:
    """A unigram SentencePiece model of one side of 3,000 training pairs (no byte fallback:
    unseen characters become ``<unk>``, as in OPUS-MT)."""
    sentences = [pair[side] for pair in tatoeba()[0][:3000]]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=0.98,  # rare Chinese characters become <unk>
        minloglevel=2,
        num_threads=1,
    )
    return model.getvalue()


def _vocabulary(
    models: list[bytes], languages: tuple[str, ...], *, pad_last: bool = True
) -> dict[str, int]:
    """OPUS-MT's order; separate vocabularies put ``<pad>`` at 2 in both (one pad id)."""
    vocabulary = {"</s>": 0, "<unk>": 1} | ({} if pad_last else {"<pad>": 2})
    for model in models:
        processor = spm.SentencePieceProcessor(model_proto=model)
        for i in range(processor.get_piece_size()):
            if not (processor.is_control(i) or processor.is_unknown(i)):
                vocabulary.setdefault(processor.id_to_piece(i), len(vocabulary))
    for token in languages:
        vocabulary[token] = len(vocabulary)
    vocabulary.setdefault("<pad>", len(vocabulary))
    return vocabulary


def write_marian_folder(out: Path, spec: MarianSpec) -> Path:
    """Save a random MarianMT model and its tokenizer files into ``out`` (OPUS-MT's layout)."""
    import transformers

    out.mkdir(parents=True, exist_ok=True)
    models = [spm_model(0, 400), spm_model(1, 1400)]
    for name, model in zip(("source.spm", "target.spm"), models, strict=True):
        (out / name).write_bytes(model)
    files = {"source_spm": str(out / "source.spm"), "target_spm": str(out / "target.spm")}
    if spec.shared:
        vocabulary = _vocabulary(models, spec.languages)
        (out / "vocab.json").write_text(json.dumps(vocabulary), encoding="utf-8")
        target_vocabulary = vocabulary
    else:
        vocabulary = _vocabulary(models[:1], spec.languages, pad_last=False)
        target_vocabulary = _vocabulary(models[1:], (), pad_last=False)
        (out / "vocab.json").write_text(json.dumps(vocabulary), encoding="utf-8")
        (out / "target_vocab.json").write_text(json.dumps(target_vocabulary), encoding="utf-8")
        files["target_vocab_file"] = str(out / "target_vocab.json")
    tokenizer = transformers.MarianTokenizer(
        vocab=str(out / "vocab.json"),
        separate_vocabs=not spec.shared,
        source_lang="en",
        target_lang="zh",
        **files,
    )
    model = random_model(spec, len(vocabulary), len(target_vocabulary))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def random_model(spec: MarianSpec, vocab_size: int, target_vocab_size: int) -> Any:
    """An eval-mode MarianMTModel with decisive random weights and a non-zero logits bias."""
    import transformers

    pad = vocab_size - 1 if spec.shared else 2
    config = transformers.MarianConfig(
        vocab_size=vocab_size,
        decoder_vocab_size=target_vocab_size,
        d_model=32,
        encoder_layers=spec.encoder_layers,
        decoder_layers=spec.decoder_layers,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        activation_function=spec.activation,
        max_position_embeddings=512,  # as OPUS-MT: no test sentence is cut
        scale_embedding=spec.scale_embedding,
        share_encoder_decoder_embeddings=spec.shared,
        tie_word_embeddings=spec.tied,
        pad_token_id=pad,
        decoder_start_token_id=pad,
        eos_token_id=0,
        bos_token_id=0,
        forced_eos_token_id=0,
        num_beams=4,
        max_length=512,
        bad_words_ids=[[pad]],
        architectures=["MarianMTModel"],
        **spec.extra,
    )
    torch.manual_seed(spec.seed)
    model = transformers.MarianMTModel(config).eval()
    generator = torch.Generator().manual_seed(spec.seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.dim() == 2 and "embed_positions" not in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
        bias = torch.randn(model.final_logits_bias.shape, generator=generator)
        bias[0, 0] += spec.eos_bias  # some outputs end, others reach the length limit
        model.final_logits_bias.copy_(bias)
    return model
