"""prepare_store: the cleaning counted in the manifest, the tokenizer's ids, tokenizer reuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.toy_data import toy_pairs
from transformer_mt.data.augmentation import Augmentation, augmented
from transformer_mt.data.cleaning import CleaningOptions
from transformer_mt.data.preparation import CorpusSource, PrepareOptions, prepare_store
from transformer_mt.data.store import TokenStore
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.errors import UserError

GOOD = toy_pairs(300, seed=0)
NOISY = [
    *GOOD[:150],
    ("", "空"),  # empty
    ("tea\x01", "茶"),  # control
    ("same", "same"),  # identical
    GOOD[0],  # duplicate
    (" ".join(["tea"] * 40), "茶"),  # over max_length, and a ratio outlier
    *GOOD[150:],
]


def source(pairs: list[tuple[str, str]]) -> CorpusSource:
    return CorpusSource(train=lambda _: iter(pairs), valid=toy_pairs(30, seed=1))


def options(**changes: object) -> PrepareOptions:
    fields = {"cleaning": CleaningOptions(max_length=32), "vocab_size": 360, **changes}
    return PrepareOptions(**fields)  # type: ignore[arg-type]  # test helper


def decoded(store: TokenStore, split: str, side: str) -> list[list[int]]:
    ids, offsets = store.ids(split, side)
    return [ids[offsets[i] : offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]


def test_each_filter_is_counted_in_the_report_and_the_manifest(tmp_path: Path) -> None:
    lines: list[str] = []
    store = prepare_store(
        source(NOISY), options(), tmp_path / "store", manifest={"key": "k"}, report=lines.append
    )
    counts = store.manifest["cleaning"]["report"]
    assert counts == {
        "read": 305,
        "invalid": 0,
        "kept": 300,
        "empty": 1,
        "control": 1,
        "identical": 1,
        "language": 0,
        "duplicates": 1,
        "length": 1,
        "ratio": 0,
    }
    assert "cleaning: 305 pairs read, 300 kept" in lines
    assert store.pairs("train") == 300 and store.pairs("valid") == 30
    assert store.manifest["key"] == "k"


def test_store_holds_the_tokenizers_ids_in_corpus_order(tmp_path: Path) -> None:
    store = prepare_store(source(GOOD), options(), tmp_path / "store", manifest={}, report=print)
    tokenizer = Tokenizer.load(store.path / "tokenizer")
    assert decoded(store, "train", "source") == tokenizer.encode_source([s for s, _ in GOOD])
    assert decoded(store, "train", "target") == tokenizer.encode_target([t for _, t in GOOD])
    assert store.ids("train", "source")[0].dtype.name == "uint16"
    assert list(store.text_pairs("valid.tsv")) == toy_pairs(30, seed=1)
    store.verify()


def test_tokenizer_reuse_copies_the_given_tokenizer(tmp_path: Path) -> None:
    first = prepare_store(source(GOOD), options(), tmp_path / "one", manifest={}, report=print)
    given = first.path / "tokenizer"
    other = toy_pairs(200, seed=7)
    second = prepare_store(
        source(other), options(tokenizer_dir=given), tmp_path / "two", manifest={}, report=print
    )
    assert Tokenizer.load(second.path / "tokenizer") == Tokenizer.load(given)
    manifest = json.loads((second.path / "manifest.json").read_text(encoding="utf-8"))
    assert "tokenizer/tokenizer.json" in manifest["files"]


def test_nothing_left_after_cleaning_is_a_user_error(tmp_path: Path) -> None:
    given = prepare_store(source(GOOD), options(), tmp_path / "one", manifest={}, report=print)
    with pytest.raises(UserError, match=r"dropped all 3 training pairs \(identical 3\); nothing"):
        prepare_store(
            source([("same", "same")] * 3),
            options(tokenizer_dir=given.path / "tokenizer"),
            tmp_path / "two",
            manifest={},
            report=print,
        )
    assert not (tmp_path / "two").exists()


def test_augmentation_adds_the_copies_after_their_pairs(tmp_path: Path) -> None:
    pairs = [("Hello world.", "你好世界。"), ("Good night!", "晚安！")] * 60
    pairs = [(f"{s[:-1]} {i}{s[-1]}", f"{t[:-1]}{i}{t[-1]}") for i, (s, t) in enumerate(pairs)]
    augmentation = Augmentation(unpunctuated=1.0, lowercased=1.0)
    store = prepare_store(
        source(pairs), options(augmentation=augmentation), tmp_path / "s", manifest={}, report=print
    )
    tokenizer = Tokenizer.load(store.path / "tokenizer")
    expected = list(augmented(pairs, augmentation))
    assert len(expected) == 3 * len(pairs) and store.pairs("train") == len(expected)
    assert decoded(store, "train", "source") == tokenizer.encode_source([s for s, _ in expected])
    assert decoded(store, "train", "target") == tokenizer.encode_target([t for _, t in expected])


def test_tokenizer_is_the_one_train_trained_before_on_a_split_below_the_sample(
    tmp_path: Path,
) -> None:
    # The sample is then the whole split in order: the tokenizer of the in-memory path.
    only_length = options(cleaning=CleaningOptions(filters=("length",), max_length=32))
    store = prepare_store(source(GOOD), only_length, tmp_path / "store", manifest={}, report=print)
    before = Tokenizer.train(GOOD, tmp_path / "before", vocab_size=360, report=print)
    assert Tokenizer.load(store.path / "tokenizer") == before
