"""Training from the token store draws exactly the batches of the in-memory corpus."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from cli.toy_data import toy_pairs
from transformer_mt.data.cleaning import CleaningOptions
from transformer_mt.data.preparation import CorpusSource, PrepareOptions, prepare_store
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.training import store_corpus
from transformer_mt.training.encoded import EncodedCorpus
from transformer_mt.training.store_corpus import StoreCorpus

PAIRS = [*toy_pairs(400, seed=3), (" ".join(["tea"] * 30), "茶")]  # the last is over max_length


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> tuple[StoreCorpus, EncodedCorpus]:
    """The same pairs from a store (only the length filter, as today) and in memory."""
    source = CorpusSource(train=lambda _: iter(PAIRS), valid=toy_pairs(30, seed=1))
    options = PrepareOptions(cleaning=CleaningOptions(filters=("length",), max_length=24))
    path = tmp_path_factory.mktemp("store") / "store"
    store = prepare_store(source, options, path, manifest={}, report=lambda _: None)
    tokenizer = Tokenizer.load(store.path / "tokenizer")
    return StoreCorpus(store, "train"), EncodedCorpus.from_pairs(tokenizer, PAIRS, 24)


def test_same_pairs_and_lengths(corpora: tuple[StoreCorpus, EncodedCorpus]) -> None:
    streamed, in_memory = corpora
    assert len(streamed) == len(in_memory) == 400  # the long pair is left out by both
    assert streamed.source_lengths.tolist() == in_memory.source_lengths.tolist()
    assert streamed.target_lengths.tolist() == in_memory.target_lengths.tolist()
    assert streamed.num_target_tokens() == in_memory.num_target_tokens()
    assert streamed.num_batches(64) == in_memory.num_batches(64)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_batches_for_the_same_seed_epoch_after_epoch(
    corpora: tuple[StoreCorpus, EncodedCorpus], seed: int
) -> None:
    streamed, in_memory = corpora
    streamed_rng, memory_rng = random.Random(seed), random.Random(seed)
    for _epoch in range(3):
        order = streamed.batch_order(64, streamed_rng)
        expected = in_memory.batch_order(64, memory_rng)
        assert [batch.tolist() for batch in order] == [batch.tolist() for batch in expected]
        for indices in order[:20]:
            mine, reference = streamed.batch(indices), in_memory.batch(indices.tolist())
            for name in ("src_ids", "tgt_in_ids", "tgt_out_ids"):
                assert torch.equal(getattr(mine, name), getattr(reference, name)), name


def test_batches_of_scattered_rows_equal_the_in_memory_ones(
    corpora: tuple[StoreCorpus, EncodedCorpus],
) -> None:
    streamed, in_memory = corpora
    for indices in (np.array([5, 0, 399, 17]), np.array([3]), np.array([7, 7])):
        mine, reference = streamed.batch(indices), in_memory.batch(indices.tolist())
        for name in ("src_ids", "tgt_in_ids", "tgt_out_ids"):
            assert torch.equal(getattr(mine, name), getattr(reference, name)), name


def test_lengths_in_chunks_equal_the_whole_difference() -> None:
    offsets = np.cumsum([0, 3, 0, 7, 1, 70_000, 2, 5])  # one length beyond uint16
    expected = (np.diff(offsets) + 1).tolist()
    reads: list[tuple[int, int]] = []

    def read(start: int, stop: int) -> np.ndarray:
        reads.append((start, stop))
        return offsets[start : stop + 1]

    lengths = store_corpus._lengths(read, len(offsets) - 1, chunk=3)
    assert lengths.tolist() == expected and lengths.dtype == np.int32
    assert reads == [(0, 3), (3, 6), (6, 7)] * 2  # the longest, then the lengths
    assert store_corpus._lengths(read, 3, chunk=2).dtype == np.uint16
