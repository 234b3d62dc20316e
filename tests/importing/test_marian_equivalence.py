"""Golden test of ``import-hf``: an imported MarianMT model decodes exactly as HF's own.

On OPUS-MT-like models built locally (random decisive weights, SentencePiece models trained on
the built-in data, a target-language token, a non-zero ``final_logits_bias``), our Translator's
greedy and beam-4 outputs equal HF ``generate`` token for token on 200 test sentences, its
teacher-forced scores equal HF's log-probabilities to 1e-4, and export -> import -> export
gives back identical tensors. No download: everything is made here.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from importing.marian_folder import MarianSpec, tatoeba, write_marian_folder
from transformer_mt.config.decoding import NO_GUARDS
from transformer_mt.decoding.translator import Translator
from transformer_mt.export.hf import export_hf
from transformer_mt.importing.run import import_hf

transformers = pytest.importorskip("transformers")

SENTENCES = 200
VARIANTS = {
    # OPUS-MT's usual shape: swish, tied shared embeddings, a language token.
    "opus": MarianSpec(encoder_layers=2, decoder_layers=1, eos_bias=9.0),
    # Untied output layer, gelu, a deeper decoder than encoder.
    "untied-gelu": MarianSpec(
        encoder_layers=1, decoder_layers=2, activation="gelu", tied=False, seed=1, eos_bias=3.0
    ),
    # Separate vocabularies (target_vocab.json), relu, unscaled embeddings, no language token.
    "separate-relu": MarianSpec(
        activation="relu",
        shared=False,
        scale_embedding=False,
        languages=(),
        seed=2,
        eos_bias=5.5,
    ),
}


def _quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module", params=list(VARIANTS))
def imported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(HF folder, run directory, HF tokenizer, HF model) for each variant."""
    spec = VARIANTS[request.param]
    base = tmp_path_factory.mktemp(request.param)
    folder = write_marian_folder(base / "hf", spec)
    import_hf(folder, base / "run", report=_quiet)
    tokenizer = transformers.MarianTokenizer.from_pretrained(folder)
    model = transformers.MarianMTModel.from_pretrained(folder).eval()
    return folder, base / "run", tokenizer, model


def _sources() -> list[str]:
    return [source for source, _ in tatoeba()[1][:SENTENCES]]


def _hf_text(source: str, tokenizer: Any) -> str:
    """HF's MarianTokenizer wants the language token in the text."""
    codes = tokenizer.supported_language_codes
    return f"{codes[0]} {source}" if codes else source


def test_source_ids_equal_marian_tokenizer(imported: Any) -> None:
    _, run, tokenizer, _ = imported
    ours, _ = Translator.load(run).encode_sources(_sources())
    assert ours == [tokenizer(_hf_text(s, tokenizer))["input_ids"] for s in _sources()]


def _generate(model: Any, tokenizer: Any, sources: list[str], beams: int) -> list[list[int]]:
    """HF generate per group of equal source length (one output limit per call, as ours:
    2 x source tokens + 10), with OPUS-MT's generation settings minus the forced </s>."""
    texts = [_hf_text(source, tokenizer) for source in sources]
    lengths = [len(tokenizer(text)["input_ids"]) for text in texts]
    outputs: list[list[int]] = [[] for _ in sources]
    order = sorted(range(len(sources)), key=lambda i: lengths[i])
    for length, group in itertools.groupby(order, key=lambda i: lengths[i]):
        indices = list(group)
        inputs = tokenizer([texts[i] for i in indices], return_tensors="pt", padding=True)
        with torch.no_grad():
            generated = model.generate(
                **inputs,
                num_beams=beams,
                do_sample=False,
                length_penalty=1.0,
                early_stopping=True,
                max_new_tokens=2 * length + 10,
                forced_eos_token_id=None,
                bad_words_ids=[[model.config.pad_token_id]],
            )
        for i, row in zip(indices, generated.tolist(), strict=True):
            outputs[i] = _strip(row[1:], model.config.pad_token_id, model.config.eos_token_id)
    return outputs


def _strip(tokens: list[int], pad: int, eos: int) -> list[int]:
    """Up to and including the first </s> (batch rows are padded after it)."""
    return tokens[: tokens.index(eos) + 1] if eos in tokens else [t for t in tokens if t != pad]


@pytest.mark.parametrize("beams", [1, 4], ids=["greedy", "beam4"])
def test_translations_equal_hf_generate(imported: Any, beams: int) -> None:
    _, run, tokenizer, model = imported
    sources = _sources()
    ours = Translator.load(run).translate_detailed(sources, beam_size=beams, **NO_GUARDS)
    theirs = _generate(model, tokenizer, sources, beams)
    for source, translation, tokens in zip(sources, ours, theirs, strict=True):
        assert translation.candidates[0].tokens == tuple(tokens), source
        text = tokenizer.decode(tokens, skip_special_tokens=True, use_source_tokenizer=False)
        assert translation.text == text, source
    ended = sum(tokens[-1] == model.config.eos_token_id for tokens in theirs)
    assert 0.1 * SENTENCES < ended < 0.95 * SENTENCES  # both finished and cut-off outputs compared


def test_teacher_forced_scores_equal_hf_log_probs(imported: Any) -> None:
    _, run, tokenizer, model = imported
    translator = Translator.load(run)
    pairs = tatoeba()[1][:SENTENCES]
    sources, targets = [s for s, _ in pairs], [t for _, t in pairs]
    ours = translator.score(sources, targets)
    texts = [_hf_text(source, tokenizer) for source in sources]
    batch = tokenizer(texts, text_target=targets, return_tensors="pt", padding=True)
    labels = batch.pop("labels")  # (B, T) with </s>, padded with <pad>
    real = labels != model.config.pad_token_id
    with torch.no_grad():
        logits = model(**batch, labels=labels.masked_fill(~real, -100)).logits
    picked = logits.log_softmax(-1).gather(2, labels[:, :, None])[:, :, 0]  # (B, T)
    theirs = (picked * real).sum(1)
    # Sums of up to ~60 log-probabilities of about -2 each: 1e-4 per token, relative 1e-6.
    torch.testing.assert_close(torch.tensor(ours), theirs, rtol=1e-6, atol=1e-4)


def test_export_import_export_round_trips_to_identical_tensors(
    imported: Any, tmp_path: Path
) -> None:
    folder, run, _, _ = imported
    export_hf(run, tmp_path / "first")
    import_hf(tmp_path / "first", tmp_path / "again", report=_quiet)
    export_hf(tmp_path / "again", tmp_path / "second")
    first = load_file(str(tmp_path / "first" / "model.safetensors"))
    second = load_file(str(tmp_path / "second" / "model.safetensors"))
    original = load_file(str(folder / "model.safetensors"))
    assert first.keys() == second.keys()
    for name, tensor in first.items():
        assert torch.equal(tensor, second[name]), name
        if name in original:  # the original's own tensors come back bit for bit
            assert torch.equal(tensor, original[name]), name
    for name in ("vocab.json", "source.spm", "target.spm"):
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes()
