"""The vocabulary shortlist: what it lists, how decoding honours it (-inf outside each sentence's
candidates, the rest as without it), and that a sentence's output never depends on its batch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from transformer_mt.decoding.search import GreedySearch
from transformer_mt.errors import UserError
from transformer_mt.inference.convert import convert_for_inference
from transformer_mt.inference.model import InferenceTransformer
from transformer_mt.inference.native import build
from transformer_mt.inference.shortlist import Shortlist, build_shortlist
from transformer_mt.model import Transformer

Maker = Callable[..., Transformer]


def toy_shortlist() -> Shortlist:
    # source 4 -> target 10 always; 5 -> 11 mostly; target 12 in every sentence.
    sources = [[4, 5], [4], [5, 6], [4, 6], [5]]
    targets = [[10, 11, 12], [10, 12], [11, 12], [10, 13, 12], [11, 12, 14]]
    return build_shortlist(sources, targets, 24, 24, top=2, frequent=1, special=(3, 1))


def test_each_source_token_lists_its_most_specific_targets() -> None:
    shortlist = toy_shortlist()
    assert shortlist.table.shape == (24, 2)
    assert shortlist.table[4, 0] == 10 and shortlist.table[5, 0] == 11
    assert shortlist.table[7].tolist() == [-1, -1]  # never seen: nothing listed
    assert shortlist.always.tolist() == [1, 3, 12]  # the most frequent target + specials


def test_candidates_are_per_sentence_sorted_and_padded() -> None:
    shortlist = toy_shortlist()
    candidates = shortlist.candidates(torch.tensor([[4, 0, 0], [5, 6, 0]]))  # (2, W)
    first = [i for i in candidates[0].tolist() if i >= 0]
    second = [i for i in candidates[1].tolist() if i >= 0]
    assert first == sorted(first) and {1, 3, 10, 12} <= set(first) and 11 not in first
    assert 11 in second and 10 not in second
    assert (candidates[0] == -1).sum() == candidates.shape[1] - len(first)


def test_saved_and_loaded_unchanged_and_missing_or_broken_files_are_user_errors(
    tmp_path: Path,
) -> None:
    shortlist = toy_shortlist()
    shortlist.save(tmp_path / "s.safetensors")
    loaded = Shortlist.load(tmp_path / "s.safetensors")
    assert torch.equal(loaded.table, shortlist.table)
    assert torch.equal(loaded.always, shortlist.always)
    with pytest.raises(UserError, match="transformer-mt shortlist"):
        Shortlist.load(tmp_path / "none.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(UserError, match="not a shortlist file"):
        Shortlist.load(tmp_path / "bad.safetensors")


def inference_model(make: Maker, dtype: str, shortlist: Shortlist | None) -> InferenceTransformer:
    model = convert_for_inference(make(0), dtype, torch.device("cpu"), fast=True)
    assert isinstance(model, InferenceTransformer)
    model.shortlist = shortlist
    return model


DTYPES = ["fp32", pytest.param("int8", id="int8-native")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beams", [1, 2])
def test_tokens_outside_a_sentences_list_get_minus_infinity_the_rest_as_without(
    make_model: Maker, dtype: str, beams: int
) -> None:
    if dtype == "int8" and build.native_ops() is None:
        pytest.skip(f"{build.unavailable_reason()}")
    src = torch.tensor([[4, 5, 3], [5, 6, 3]])
    plain = inference_model(make_model, dtype, None)
    listed = inference_model(make_model, dtype, toy_shortlist())
    with torch.inference_mode():
        memory = plain.encode(src)
        tokens = torch.full((2 * beams,), 2)
        full, _ = plain.step_log_probs(tokens, plain.start_cache(memory, src, beams=beams))
        cache = listed.start_cache(memory, src, beams=beams)
        restricted, _ = listed.step_log_probs(tokens, cache)
    assert cache.vocabulary is not None
    for row in range(2 * beams):
        ids = cache.vocabulary[row // beams]
        ids = ids[ids >= 0]
        outside = torch.ones(24, dtype=torch.bool)
        outside[ids] = False
        assert torch.isinf(restricted[row, outside]).all()
        torch.testing.assert_close(restricted[row, ids], full[row, ids].log_softmax(dim=-1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_sentences_output_does_not_depend_on_its_batch(make_model: Maker, dtype: str) -> None:
    if dtype == "int8" and build.native_ops() is None:
        pytest.skip(f"{build.unavailable_reason()}")
    model = inference_model(make_model, dtype, toy_shortlist())
    src = torch.tensor([[4, 5, 6, 3], [5, 3, 0, 0], [6, 4, 3, 0]])
    limits = torch.tensor([2, 6, 4])  # sentences leave the batch at different steps
    together = GreedySearch().search(model, src, limits)
    for index in range(3):
        length = int((src[index] != 0).sum())
        alone = GreedySearch().search(
            model, src[index : index + 1, :length], limits[index : index + 1]
        )
        assert alone[0][0].tokens == together[index][0].tokens


@pytest.mark.parametrize("seed", range(3))
def test_batch_candidates_list_each_sentence_on_its_own(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    sources = [torch.randint(0, 24, (4,), generator=generator).tolist() for _ in range(40)]
    targets = [torch.randint(0, 30, (5,), generator=generator).tolist() for _ in range(40)]
    shortlist = build_shortlist(sources, targets, 24, 30, top=3, frequent=2, special=(1,))
    src = torch.randint(0, 26, (6, 7), generator=generator)  # ids past Vs clamp, as per sentence
    candidates = shortlist.candidates(src)  # (6, W)
    lists = [shortlist.sentence_candidates(row) for row in src]
    assert candidates.shape[1] == max(len(ids) for ids in lists)
    for row, ids in zip(candidates, lists, strict=True):
        assert torch.equal(row[: len(ids)], ids)
        assert (row[len(ids) :] == -1).all()
