"""``transformer-mt import-hf``: the imported run works with every command, multi-target models
need a language, and what cannot be converted is a one-line error naming the file or field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from cli.toy_data import assert_user_error, invoke, toy_config, write_config, write_corpus
from importing.marian_folder import LANGUAGES, MarianSpec, tatoeba, write_marian_folder
from transformer_mt.config.decoding import NO_GUARDS
from transformer_mt.decoding.translator import Translator
from transformer_mt.serve.app import create_app

pytest.importorskip("transformers")

SOURCES = [source for source, _ in tatoeba()[1][:20]]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A multi-target model (three language tokens), OPUS-MT's layout."""
    spec = MarianSpec(languages=LANGUAGES, eos_bias=9.0)
    return write_marian_folder(tmp_path_factory.mktemp("multi") / "hf", spec)


@pytest.fixture(scope="module")
def run(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("imported") / "run"
    result = invoke(["import-hf", str(folder), str(out), "--target-language", "cmn_Hant"])
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert ">>cmn_Hant<<" in result.stderr
    return out


def test_multi_target_models_need_a_language(folder: Path, tmp_path: Path) -> None:
    result = invoke(["import-hf", str(folder), str(tmp_path / "run")])
    assert_user_error(result, "multi-target", ">>cmn_Hans<<", "--target-language")
    result = invoke(["import-hf", str(folder), str(tmp_path / "run"), "--target-language", "xx"])
    assert_user_error(result, ">>xx<<", "not in the vocabulary")
    assert not (tmp_path / "run").exists()


def test_the_language_token_starts_every_source(run: Path, folder: Path) -> None:
    vocabulary = json.loads((folder / "vocab.json").read_text())
    translator = Translator.load(run)
    (ids,), _ = translator.encode_sources(["Hello."])
    assert ids[0] == vocabulary[">>cmn_Hant<<"] and ids[-1] == vocabulary["</s>"]
    (own,), _ = translator.encode_sources([">>yue_Hans<< Hello."])  # the sentence's own token
    assert own == [vocabulary[">>yue_Hans<<"], *ids[1:]]


def test_the_target_language_is_chosen_at_load_time(run: Path, folder: Path) -> None:
    vocabulary = json.loads((folder / "vocab.json").read_text())
    chosen = Translator.load(run, target_language="yue_Hans")
    (ids,), _ = chosen.encode_sources(["Hello."])
    assert ids[0] == vocabulary[">>yue_Hans<<"]
    expected = Translator.load(run).translate([f">>yue_Hans<< {s}" for s in SOURCES[:5]])
    result = invoke(
        ["translate", str(run), "--target-language", "yue_Hans"], stdin="\n".join(SOURCES[:5])
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == expected
    result = invoke(["translate", str(run), "--target-language", "xx"], stdin="Hello.")
    assert_user_error(result, ">>xx<<", "not in the vocabulary")


def test_a_model_without_language_tokens_refuses_a_target_language(tmp_path: Path) -> None:
    folder = write_marian_folder(tmp_path / "hf", MarianSpec(languages=()))
    invoke(["import-hf", str(folder), str(tmp_path / "run")])
    result = invoke(["translate", str(tmp_path / "run"), "--target-language", "cmn_Hans"])
    assert_user_error(result, "no target-language tokens")


def test_translate_evaluate_check_and_export(run: Path, tmp_path: Path) -> None:
    result = invoke(["translate", str(run), "--beam-size", "2"], stdin="\n".join(SOURCES[:5]))
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert len(result.stdout.splitlines()) == 5
    src, ref = tmp_path / "test.en", tmp_path / "test.zh"
    src.write_text("\n".join(SOURCES) + "\n", encoding="utf-8")
    ref.write_text("\n".join(t for _, t in tatoeba()[1][:20]) + "\n", encoding="utf-8")
    result = invoke(["evaluate", str(run), "--src", str(src), "--ref", str(ref)])
    assert result.exit_code == 0, (result.stderr, result.exception)
    result = invoke(["check", str(run), "--src", str(src), "--sentences", "8"])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    for target in ("hf", "ctranslate2"):
        result = invoke(["export", str(run), "--format", target, str(tmp_path / target)])
        assert result.exit_code == 0, (target, result.stderr, result.exception)


def test_ctranslate2_decodes_as_we_do(run: Path, tmp_path: Path) -> None:
    ctranslate2 = pytest.importorskip("ctranslate2")
    invoke(["export", str(run), "--format", "ctranslate2", str(tmp_path / "ct2")])
    engine = ctranslate2.Translator(str(tmp_path / "ct2"), device="cpu", intra_threads=1)
    translator = Translator.load(run)
    tokenizer = translator.tokenizer
    encoded, _ = translator.encode_sources(SOURCES)
    ours = translator.translate_detailed(SOURCES, beam_size=1, **NO_GUARDS)
    for ids, translation in zip(encoded, ours, strict=True):
        (result,) = engine.translate_batch(
            [tokenizer.source_id_pieces(ids)],
            beam_size=1,
            max_decoding_length=2 * len(ids) + 10,
            min_decoding_length=0,  # ours may end at once
            suppress_sequences=[["<pad>"]],
        )
        tokens = [tokenizer.target_vocabulary[piece] for piece in result.hypotheses[0]]
        best = list(translation.candidates[0].tokens)
        assert tokens == best[: len(tokens)] and len(best) - len(tokens) in (0, 1)


def test_explain_and_serve(run: Path, tmp_path: Path) -> None:
    result = invoke(
        ["explain", str(run), "--source", SOURCES[0], "--only", "trace", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, (result.stderr, result.exception)
    from fastapi.testclient import TestClient

    with TestClient(create_app(Translator.load(run), model_name="opus")) as client:
        response = client.post("/translate", json={"sentences": SOURCES[:3]})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("dtype", ["bf16", "int8"])
def test_low_precision_translates_like_fp32(run: Path, dtype: str) -> None:
    reference = Translator.load(run).translate(SOURCES, beam_size=1, **NO_GUARDS)
    low = Translator.load(run, dtype=dtype).translate(SOURCES, beam_size=1, **NO_GUARDS)
    first_words = sum(a.split()[:1] == b.split()[:1] for a, b in zip(reference, low, strict=True))
    assert first_words >= 0.7 * len(SOURCES), (reference, low)


def test_pytorch_model_bin_imports_like_safetensors(
    folder: Path, run: Path, tmp_path: Path
) -> None:
    copy = _copy(folder, tmp_path / "bin")
    state = load_file(str(copy / "model.safetensors"))
    (copy / "model.safetensors").unlink()
    torch.save(state, copy / "pytorch_model.bin")
    result = invoke(
        ["import-hf", str(copy), str(tmp_path / "run"), "--target-language", "cmn_Hant"]
    )
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert (tmp_path / "run" / "model.safetensors").read_bytes() == (
        run / "model.safetensors"
    ).read_bytes()


class _Payload:
    """A pickled object whose loading would run code: ``weights_only=True`` refuses it."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (print, ("this must never run",))


def _copy(folder: Path, out: Path) -> Path:
    shutil.copytree(folder, out)
    return out


def _edit_config(path: Path, **changes: Any) -> None:
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps(config | changes))


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        (lambda p: _edit_config(p, model_type="bart"), ["config.json", "model_type"]),
        (
            lambda p: _edit_config(p, architectures=["MarianForCausalLM"]),
            ["architectures", "MarianMTModel"],
        ),
        (lambda p: _edit_config(p, activation_function="tanh"), ["activation_function"]),
        (lambda p: _edit_config(p, decoder_ffn_dim=128), ["encoder_ffn_dim", "decoder_ffn_dim"]),
        (lambda p: _edit_config(p, pad_token_id=5), ["pad_token_id"]),
        (lambda p: (p / "source.spm").unlink(), ["source.spm", "SentencePiece"]),
        (lambda p: (p / "vocab.json").unlink(), ["vocab.json", "no such file"]),
        (lambda p: (p / "config.json").unlink(), ["config.json", "no such file"]),
        (lambda p: (p / "tokenizer_config.json").unlink(), ["tokenizer_config.json"]),
        (lambda p: (p / "model.safetensors").unlink(), ["pytorch_model.bin", "no weights"]),
        (
            lambda p: (
                torch.save({"weight": _Payload()}, p / "pytorch_model.bin")
                or (p / "model.safetensors").unlink()
            ),
            ["pytorch_model.bin", "refused"],
        ),
    ],
    ids=[
        "bart",
        "causal-lm",
        "activation",
        "ffn-widths",
        "pad-id",
        "bpe-no-spm",
        "no-vocab",
        "no-config",
        "no-tokenizer-config",
        "no-weights",
        "pickled-code",
    ],
)
def test_what_cannot_be_converted_is_a_one_line_error(
    folder: Path, tmp_path: Path, change: Any, fragments: list[str], capsys: Any
) -> None:
    copy = _copy(folder, tmp_path / "hf")
    change(copy)
    result = invoke(
        ["import-hf", str(copy), str(tmp_path / "run"), "--target-language", "cmn_Hans"]
    )
    assert_user_error(result, *fragments)
    assert "this must never run" not in result.output + capsys.readouterr().out
    assert not (tmp_path / "run").exists()


def test_a_non_empty_run_dir_needs_overwrite(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "keep.txt").write_text("mine")
    args = ["import-hf", str(folder), str(tmp_path / "run"), "--target-language", "cmn_Hans"]
    assert_user_error(invoke(args), "not empty", "--overwrite")
    assert invoke([*args, "--overwrite"]).exit_code == 0


def test_an_imported_model_fine_tunes(run: Path, tmp_path: Path) -> None:
    config = toy_config(write_corpus(tmp_path / "data"), tmp_path / "tuned")
    del config["model"]
    config["training"] |= {"max_steps": 3, "validate_every": 3, "bleu_every": 3, "lr": 1e-4}
    path = write_config(tmp_path / "ft.yaml", config)
    result = invoke(["train", str(path), "--init-from", str(run)])
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "tokenizer (reused)" in result.stderr
    tuned = Translator.load(tmp_path / "tuned")
    assert tuned.tokenizer.target_language == ">>cmn_Hant<<"
    assert tuned.translate(SOURCES[:2], beam_size=1)
