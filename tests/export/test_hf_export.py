"""``transformer-mt export --format hf``: the directory loads in HF Transformers unchanged and
decodes exactly as our Translator does (same tokens, logits, greedy and beam outputs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from cli.toy_data import assert_user_error, invoke, toy_pairs
from transformer_mt.config.decoding import NO_GUARDS
from transformer_mt.decoding.translator import Translator

transformers = pytest.importorskip("transformers")

SENTENCES = ["i like tea", "you see the big red car", "dog"] + [
    source for source, _ in toy_pairs(6, seed=5)
]


@pytest.fixture(scope="module")
def exported(toy_run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hf") / "model"
    result = invoke(["export", str(toy_run_dir), "--format", "hf", str(out)])
    assert result.exit_code == 0, (result.stderr, result.exception)
    return out


@pytest.fixture(scope="module")
def loaded(exported: Path) -> tuple[Any, Any]:
    tokenizer = transformers.AutoTokenizer.from_pretrained(exported)
    model = transformers.AutoModelForSeq2SeqLM.from_pretrained(exported).eval()
    return tokenizer, model


def test_tokenizer_ids_match_ours(toy_run_dir: Path, loaded: tuple[Any, Any]) -> None:
    tokenizer, _ = loaded
    ours, _ = Translator.load(toy_run_dir).encode_sources(SENTENCES)
    assert [tokenizer(s)["input_ids"] for s in SENTENCES] == ours


def test_logits_equal_ours(toy_run_dir: Path, loaded: tuple[Any, Any]) -> None:
    tokenizer, model = loaded
    translator = Translator.load(toy_run_dir)
    inputs = tokenizer(SENTENCES, return_tensors="pt", padding=True)
    targets = torch.randint(4, 40, (len(SENTENCES), 7), generator=torch.Generator().manual_seed(0))
    targets[:, 0] = translator.model.config.bos_id
    with torch.no_grad():
        ours = translator.model(inputs["input_ids"], targets)
        theirs = model(**inputs, decoder_input_ids=targets).logits
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("beam_size", [1, 4])
def test_generate_equals_translator(
    toy_run_dir: Path, loaded: tuple[Any, Any], beam_size: int
) -> None:
    tokenizer, model = loaded
    translator = Translator.load(toy_run_dir)
    # HF generate has no repetition guards like ours: compare without them.
    ours = translator.translate_detailed(SENTENCES, beam_size=beam_size, **NO_GUARDS)
    for sentence, translation in zip(SENTENCES, ours, strict=True):
        inputs = tokenizer([sentence], return_tensors="pt")
        limit = 2 * inputs["input_ids"].shape[1] + 10  # Translator's default output limit
        with torch.no_grad():
            output = model.generate(**inputs, num_beams=beam_size, max_new_tokens=limit)
        theirs = [t for t in output[0, 1:].tolist() if t != tokenizer.pad_token_id]
        assert tuple(theirs) == translation.candidates[0].tokens, sentence
        assert tokenizer.decode(output[0], skip_special_tokens=True) == translation.text


@pytest.mark.skipif(
    int(transformers.__version__.split(".")[0]) >= 5,
    reason="transformers 5 removed the translation pipeline (use generate)",
)
def test_translation_pipeline(toy_run_dir: Path, exported: Path) -> None:
    pipeline = transformers.pipeline("translation", model=str(exported))
    ours = Translator.load(toy_run_dir).translate(SENTENCES[:3], beam_size=4, **NO_GUARDS)
    assert [r["translation_text"] for r in pipeline(SENTENCES[:3])] == ours


def test_missing_extra_is_a_one_line_error(
    toy_run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "transformers", None)
    result = invoke(["export", str(toy_run_dir), "--format", "hf", str(tmp_path / "out")])
    assert_user_error(result, "pip install transformer-mt[export]")


def test_quantization_is_for_ctranslate2_only(toy_run_dir: Path, tmp_path: Path) -> None:
    result = invoke(
        ["export", str(toy_run_dir), "--format", "hf", str(tmp_path), "--quantization", "int8"]
    )
    assert_user_error(result, "--quantization")
