"""SentencePiece tokenizers trained on a tiny generated corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from transformer_mt.data.pairs import SentencePair
from transformer_mt.data.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Tokenizer
from transformer_mt.errors import DataError, UserError

ANIMALS = [("cat", "猫"), ("dog", "狗"), ("bird", "鸟"), ("horse", "马"), ("fish", "鱼")]
PLACES = [("on the mat", "在垫子上"), ("in the garden", "在花园里"), ("by the river", "在河边")]
ACTIONS = [("sits", "坐"), ("sleeps", "睡觉"), ("plays", "玩")]

ROUND_TRIP_TEXTS = [
    "The cat sleeps in the garden.",
    "猫在花园里睡觉。",
    "你好，世界！真的吗？……",  # full-width punctuation survives normalisation
    "Party time 🎉😀!",  # emoji were never seen: byte fallback
    "龘龘 is a rare character.",
    "Numbers 12345 and symbols #%&.",
]


def tiny_corpus() -> list[SentencePair]:
    """60 English-Chinese pairs built from a few templates."""
    pairs = []
    for index, (animal, zh_animal) in enumerate(ANIMALS * 4):
        for place, zh_place in PLACES:
            action, zh_action = ACTIONS[index % len(ACTIONS)]
            english = f"The {animal} {action} {place}."
            chinese = f"{zh_animal}{zh_place}{zh_action}。"
            pairs.append((english, chinese))
    return pairs


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Tokenizer, Path]:
    directory = tmp_path_factory.mktemp("joint")
    return Tokenizer.train(tiny_corpus(), directory, vocab_size=320), directory


def test_round_trip(trained: tuple[Tokenizer, Path]) -> None:
    tokenizer, _ = trained
    assert tokenizer.decode_source(tokenizer.encode_source(ROUND_TRIP_TEXTS)) == ROUND_TRIP_TEXTS
    assert tokenizer.decode_target(tokenizer.encode_target(ROUND_TRIP_TEXTS)) == ROUND_TRIP_TEXTS


def test_byte_fallback_never_produces_unk(trained: tuple[Tokenizer, Path]) -> None:
    tokenizer, _ = trained
    emoji_ids = tokenizer.encode_target(["🎉"])[0]
    assert UNK_ID not in emoji_ids
    assert "<0xF0>" in tokenizer.target_pieces("🎉")  # first UTF-8 byte of the emoji
    assert all(UNK_ID not in ids for ids in tokenizer.encode_source(ROUND_TRIP_TEXTS))


def test_special_ids(trained: tuple[Tokenizer, Path]) -> None:
    tokenizer, _ = trained
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.bos_id, tokenizer.eos_id) == (
        PAD_ID,
        UNK_ID,
        BOS_ID,
        EOS_ID,
    )
    assert (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)
    for ids in tokenizer.encode_target(ROUND_TRIP_TEXTS):
        assert ids and not {PAD_ID, BOS_ID, EOS_ID} & set(ids)


def test_decode_ignores_pad_bos_eos(trained: tuple[Tokenizer, Path]) -> None:
    tokenizer, _ = trained
    ids = tokenizer.encode_target(["猫在河边玩。"])[0]
    padded = [BOS_ID, *ids, EOS_ID, PAD_ID, PAD_ID]
    assert tokenizer.decode_target([padded, [BOS_ID, EOS_ID]]) == ["猫在河边玩。", ""]


def test_chinese_characters_get_their_own_pieces(trained: tuple[Tokenizer, Path]) -> None:
    tokenizer, _ = trained
    pieces = tokenizer.target_pieces("狗在花园里睡觉。")
    assert not any(piece.startswith("<0x") for piece in pieces)
    assert "".join(pieces).replace("▁", "") == "狗在花园里睡觉。"


def test_load_equals_trained(trained: tuple[Tokenizer, Path]) -> None:
    tokenizer, directory = trained
    loaded = Tokenizer.load(directory)
    assert loaded == tokenizer
    assert loaded.encode_source(ROUND_TRIP_TEXTS) == tokenizer.encode_source(ROUND_TRIP_TEXTS)
    assert loaded.joint and loaded.source_vocab_size == loaded.target_vocab_size == 320


def test_joint_directory_layout(trained: tuple[Tokenizer, Path]) -> None:
    _, directory = trained
    assert sorted(path.name for path in directory.iterdir()) == [
        "source-casing.json",
        "spm.model",
        "target-doubles.tsv",
        "tokenizer.json",
    ]
    manifest = json.loads((directory / "tokenizer.json").read_text(encoding="utf-8"))
    assert manifest["joint"] is True
    assert manifest["source_model"] == manifest["target_model"] == "spm.model"
    assert manifest["source_vocab_size"] == 320


def test_training_is_deterministic(trained: tuple[Tokenizer, Path], tmp_path: Path) -> None:
    tokenizer, _ = trained
    assert Tokenizer.train(tiny_corpus(), tmp_path, vocab_size=320) == tokenizer


def test_separate_models(tmp_path: Path) -> None:
    tokenizer = Tokenizer.train(tiny_corpus(), tmp_path, vocab_size=300, joint=False)
    assert not tokenizer.joint
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "source-casing.json",
        "source.model",
        "target-doubles.tsv",
        "target.model",
        "tokenizer.json",
    ]
    # The English model never saw Chinese, so Chinese falls back to bytes there.
    assert tokenizer.source_pieces("猫")[-1].startswith("<0x")
    assert tokenizer.target_pieces("猫") in (["▁猫"], ["▁", "猫"])
    assert Tokenizer.load(tmp_path) == tokenizer
    texts = ["The dog plays by the river.", "狗在河边玩。"]
    assert tokenizer.decode_source(tokenizer.encode_source(texts)) == texts
    assert tokenizer.decode_target(tokenizer.encode_target(texts)) == texts


def test_too_small_vocab_is_raised_to_the_minimum(tmp_path: Path) -> None:
    messages: list[str] = []
    tokenizer = Tokenizer.train(tiny_corpus(), tmp_path, vocab_size=100, report=messages.append)
    # 4 special pieces + 256 byte pieces + the corpus characters at least.
    assert tokenizer.source_vocab_size > 260
    assert len(messages) == 1 and "vocab_size 100" in messages[0]
    texts = ["The cat sits on the mat."]
    assert tokenizer.decode_source(tokenizer.encode_source(texts)) == texts


def test_too_large_vocab_is_reduced(tmp_path: Path) -> None:
    messages: list[str] = []
    tokenizer = Tokenizer.train(tiny_corpus(), tmp_path, vocab_size=5000, report=messages.append)
    assert tokenizer.source_vocab_size < 5000
    assert messages == [
        f"tokenizer: vocab_size 5000 does not fit the data; using {tokenizer.source_vocab_size}"
    ]


def test_bpe_model_type(tmp_path: Path) -> None:
    tokenizer = Tokenizer.train(tiny_corpus(), tmp_path, vocab_size=300, model_type="bpe")
    assert tokenizer.decode_target(tokenizer.encode_target(ROUND_TRIP_TEXTS)) == ROUND_TRIP_TEXTS


def test_bad_settings_and_data(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="model_type"):
        Tokenizer.train(tiny_corpus(), tmp_path, model_type="word")
    with pytest.raises(UserError, match="no sentences"):
        Tokenizer.train([], tmp_path)


def test_load_from_a_directory_without_tokenizer(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"tokenizer\.json: no such file"):
        Tokenizer.load(tmp_path)


def test_load_detects_a_missing_model_file(trained: tuple[Tokenizer, Path], tmp_path: Path) -> None:
    _, directory = trained
    (tmp_path / "tokenizer.json").write_bytes((directory / "tokenizer.json").read_bytes())
    with pytest.raises(DataError, match=r"spm\.model: no such file"):
        Tokenizer.load(tmp_path)


def test_sentence_sampling_is_deterministic(tmp_path: Path) -> None:
    # The joint model sees 120 sentences; a limit of 101 makes SentencePiece sample them.
    first = Tokenizer.train(tiny_corpus(), tmp_path / "a", vocab_size=300, seed_sentences_limit=101)
    second = Tokenizer.train(
        tiny_corpus(), tmp_path / "b", vocab_size=300, seed_sentences_limit=101
    )
    assert first == second
    with pytest.raises(UserError, match="above 100"):
        Tokenizer.train(tiny_corpus(), tmp_path / "c", seed_sentences_limit=50)
