"""Which characters the training data doubles: counting, storing, reading back."""

from collections import Counter

import pytest
from tests.data.test_tokenizer import tiny_corpus

from transformer_mt.data.reduplication import (
    DOUBLES_FILE,
    doubled_characters,
    doubles_in,
    read_doubles,
    write_doubles,
)
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.errors import DataError


def test_counts_cjk_doubles_only() -> None:
    texts = ["妈妈喜欢慢慢走。", "我妈妈 妈妈", "all good", "aa bb", "水水水"]
    # "水水水" holds one double (the regex does not overlap), "妈 妈" counts despite the space.
    assert doubled_characters(texts) == Counter({"妈": 3, "慢": 1, "水": 1})


def test_doubles_in_lists_each_double_in_order() -> None:
    assert doubles_in("我喝水水，天天") == ["水", "天"]
    assert doubles_in("hello") == []


def test_round_trip(tmp_path) -> None:
    write_doubles(tmp_path, Counter({"天": 3, "妈": 5, "慢": 3}))
    assert (tmp_path / DOUBLES_FILE).read_text(encoding="utf-8") == "妈\t5\n天\t3\n慢\t3\n"
    assert read_doubles(tmp_path) == frozenset("妈天慢")


def test_missing_file_reads_as_none(tmp_path) -> None:
    assert read_doubles(tmp_path) is None


def test_malformed_line_names_file_and_line(tmp_path) -> None:
    (tmp_path / DOUBLES_FILE).write_text("妈\t5\n天天\t3\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{DOUBLES_FILE}:2: expected"):
        read_doubles(tmp_path)


def test_a_trained_tokenizer_records_its_targets_doubles(tmp_path) -> None:
    pairs = [*tiny_corpus(), ("Mum walks slowly.", "妈妈慢慢走。"), ("Hi mum.", "妈妈好。")]
    trained = Tokenizer.train(pairs, tmp_path, vocab_size=320)
    assert trained.target_doubles == frozenset("妈慢")
    assert Tokenizer.load(tmp_path).target_doubles == frozenset("妈慢")
    (tmp_path / DOUBLES_FILE).unlink()  # a run trained before doubles were recorded
    assert Tokenizer.load(tmp_path).target_doubles is None
