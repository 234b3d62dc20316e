"""VocabularyTokenizer: SentencePiece pieces mapped through a vocabulary (MarianMT's layout)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sentencepiece as spm

from importing.marian_folder import spm_model
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.data.vocabulary import SpecialTokens, VocabularyTokenizer, read_vocabulary
from transformer_mt.errors import DataError, UserError


@pytest.fixture(scope="module")
def tokenizer() -> VocabularyTokenizer:
    """English source, Chinese target, one vocabulary; ids as in OPUS-MT."""
    models = [
        spm.SentencePieceProcessor(model_proto=spm_model(side, size))
        for side, size in ((0, 400), (1, 1400))
    ]
    vocabulary = {"</s>": 0, "<unk>": 1}
    for model in models:
        for i in range(model.get_piece_size()):
            if not (model.is_control(i) or model.is_unknown(i)):
                vocabulary.setdefault(model.id_to_piece(i), len(vocabulary))
    vocabulary |= {">>cmn_Hans<<": len(vocabulary), ">>yue_Hant<<": len(vocabulary) + 1}
    vocabulary["<pad>"] = len(vocabulary)
    return VocabularyTokenizer(
        models[0], models[1], vocabulary, vocabulary, specials=SpecialTokens()
    ).with_target_language("cmn_Hans")


def test_special_ids_come_from_the_vocabulary(tokenizer: VocabularyTokenizer) -> None:
    pad = tokenizer.source_vocab_size - 1
    assert (tokenizer.eos_id, tokenizer.unk_id, tokenizer.pad_id, tokenizer.bos_id) == (
        0,
        1,
        pad,
        pad,
    )
    assert tokenizer.target_languages == [">>cmn_Hans<<", ">>yue_Hant<<"]


def test_sources_start_with_the_language_token(tokenizer: VocabularyTokenizer) -> None:
    (ids,) = tokenizer.encode_source(["Tom is here."])
    assert tokenizer.source_id_pieces(ids)[0] == ">>cmn_Hans<<"
    assert (
        "".join(tokenizer.source_id_pieces(ids[1:])).replace("\u2581", " ").strip()
        == "Tom is here."
    )
    (own,) = tokenizer.encode_source([">>yue_Hant<< Tom is here."])
    assert tokenizer.source_id_pieces(own)[0] == ">>yue_Hant<<" and own[1:] == ids[1:]


def test_targets_round_trip_without_specials(tokenizer: VocabularyTokenizer) -> None:
    (ids,) = tokenizer.encode_target(["我们去学校。"])
    assert tokenizer.decode_target([[*ids, tokenizer.eos_id, tokenizer.pad_id]]) == ["我们去学校。"]
    (unknown,) = tokenizer.encode_target(["龘"])  # a character the model never saw
    assert tokenizer.unk_id in unknown and tokenizer.unk_id in tokenizer.fallback_ids("target")


def test_piece_characters_skip_specials_and_language_tokens(tokenizer: VocabularyTokenizer) -> None:
    counts = tokenizer.target_piece_characters()
    vocabulary = tokenizer.target_vocabulary
    assert counts[vocabulary[">>cmn_Hans<<"]] == 0 and counts[tokenizer.pad_id] == 0
    assert counts[vocabulary["\u2581Tom"]] == 3


def test_save_and_load_round_trip(tokenizer: VocabularyTokenizer, tmp_path: Path) -> None:
    tokenizer.save(tmp_path)
    loaded = Tokenizer.load(tmp_path)
    assert isinstance(loaded, VocabularyTokenizer)
    assert loaded == tokenizer and loaded.target_language == ">>cmn_Hans<<"


def test_an_unknown_language_or_vocabulary_file_is_refused(
    tokenizer: VocabularyTokenizer, tmp_path: Path
) -> None:
    with pytest.raises(UserError, match=r">>fra<< is not in the vocabulary \(known: >>cmn_Hans<<"):
        tokenizer.with_target_language("fra")
    (tmp_path / "vocab.json").write_text('{"a": 0, "b": 0}')
    with pytest.raises(DataError, match="two pieces share one id"):
        read_vocabulary(tmp_path / "vocab.json")
