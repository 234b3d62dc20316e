"""``transformer-mt export --format ctranslate2``: CTranslate2 decodes as our Translator does."""

from __future__ import annotations

from pathlib import Path

import pytest
import sentencepiece as spm

from cli.toy_data import invoke, toy_pairs
from transformer_mt.config.decoding import NO_GUARDS
from transformer_mt.decoding.translator import Translator

ctranslate2 = pytest.importorskip("ctranslate2")

EOS = 3

SENTENCES = ["i like tea", "you see the big red car", "dog"] + [
    source for source, _ in toy_pairs(6, seed=5)
]


def export(run_dir: Path, out: Path, *extra: str) -> Path:
    result = invoke(["export", str(run_dir), "--format", "ctranslate2", str(out), *extra])
    assert result.exit_code == 0, (result.stderr, result.exception)
    return out


def vocabulary(run_dir: Path) -> spm.SentencePieceProcessor:
    """The toy run's joint SentencePiece model (pieces <-> ids)."""
    return spm.SentencePieceProcessor(model_file=str(run_dir / "tokenizer" / "spm.model"))


@pytest.mark.parametrize("beam_size", [1, 4])
def test_float32_outputs_equal_translator(
    toy_run_dir: Path, tmp_path: Path, beam_size: int
) -> None:
    engine = ctranslate2.Translator(
        str(export(toy_run_dir, tmp_path / "ct2")), device="cpu", intra_threads=1
    )
    translator = Translator.load(toy_run_dir)
    pieces = vocabulary(toy_run_dir)
    encoded, _ = translator.encode_sources(SENTENCES)
    # CTranslate2 has no repetition guards like ours: compare without them.
    ours = translator.translate_detailed(SENTENCES, beam_size=beam_size, **NO_GUARDS)
    for source_ids, translation in zip(encoded, ours, strict=True):
        (result,) = engine.translate_batch(
            [[pieces.id_to_piece(i) for i in source_ids]],
            beam_size=beam_size,
            max_decoding_length=2 * len(source_ids) + 10,  # Translator's default limit
            suppress_sequences=[["<pad>"], ["<s>"]],
        )
        theirs = [pieces.piece_to_id(piece) for piece in result.hypotheses[0]]
        best = translation.candidates[0]
        assert theirs + ([EOS] if best.tokens[-1] == EOS else []) == list(best.tokens)


def test_int8_quantizes_the_weights(toy_run_dir: Path, tmp_path: Path) -> None:
    full = export(toy_run_dir, tmp_path / "fp32") / "model.bin"
    int8 = export(toy_run_dir, tmp_path / "int8", "--quantization", "int8") / "model.bin"
    assert int8.stat().st_size < 0.5 * full.stat().st_size
    engine = ctranslate2.Translator(str(int8.parent), device="cpu", intra_threads=1)
    (result,) = engine.translate_batch([["▁i", "</s>"]], max_decoding_length=5)
    assert result.hypotheses[0]
