"""The fused projection + label-smoothed cross-entropy against ``F.cross_entropy``.

Also the teacher-forcing batches that feed it (``data/batching``).
"""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F  # noqa: N812 (the conventional alias)

from transformer_mt.data.batching import (
    Batch,
    pad_sequences,
    teacher_forcing_shift,
    token_budget_batches,
)
from transformer_mt.training import loss as loss_module
from transformer_mt.training.loss import projection_cross_entropy

N, D, V = 37, 16, 29


def inputs(dtype: torch.dtype, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    hidden = torch.randn(N, D, generator=generator, dtype=dtype)
    weight = torch.randn(V, D, generator=generator, dtype=dtype) * 0.5
    targets = torch.randint(0, V, (N,), generator=generator)
    return hidden, weight, targets


def reference(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, smoothing: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Loss and its gradients through materialised logits."""
    hidden = hidden.detach().requires_grad_()
    weight = weight.detach().requires_grad_()
    logits = hidden @ weight.T  # (N, V)
    loss = F.cross_entropy(logits, targets, label_smoothing=smoothing, reduction="sum")
    loss.backward()
    assert hidden.grad is not None
    assert weight.grad is not None
    return loss.detach(), hidden.grad, weight.grad


def fused(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, smoothing: float
) -> tuple[loss_module.LossOutput, torch.Tensor, torch.Tensor]:
    hidden = hidden.detach().requires_grad_()
    weight = weight.detach().requires_grad_()
    output = projection_cross_entropy(hidden, weight, targets, smoothing)
    output.loss.backward()
    assert hidden.grad is not None
    assert weight.grad is not None
    return output, hidden.grad, weight.grad


@pytest.fixture(params=[None, 7 * V, 1], ids=["one-chunk", "7-rows-per-chunk", "1-row-per-chunk"])
def chunk_elements(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run each test with the default chunk and with chunks small enough to split N rows."""
    if request.param is not None:
        monkeypatch.setattr(loss_module, "_CHUNK_ELEMENTS", request.param)


TOLERANCE = {
    torch.float32: {"rtol": 1e-5, "atol": 1e-5},
    torch.float64: {"rtol": 1e-10, "atol": 1e-10},
}


@pytest.mark.usefixtures("chunk_elements")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_equals_cross_entropy_in_value_and_gradients(dtype: torch.dtype, smoothing: float) -> None:
    hidden, weight, targets = inputs(dtype)
    expected_loss, expected_grad_hidden, expected_grad_weight = reference(
        hidden, weight, targets, smoothing
    )
    output, grad_hidden, grad_weight = fused(hidden, weight, targets, smoothing)
    tolerance = TOLERANCE[dtype]
    torch.testing.assert_close(output.loss, expected_loss, **tolerance)
    torch.testing.assert_close(grad_hidden, expected_grad_hidden, **tolerance)
    torch.testing.assert_close(grad_weight, expected_grad_weight, **tolerance)
    assert grad_hidden.dtype == grad_weight.dtype == dtype


@pytest.mark.usefixtures("chunk_elements")
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_nll_is_unsmoothed_and_correct_counts_argmax_hits(smoothing: float) -> None:
    hidden, weight, targets = inputs(torch.float64, seed=1)
    logits = hidden @ weight.T
    targets[:5] = logits[:5].argmax(-1)  # make sure some predictions are right
    output = projection_cross_entropy(hidden, weight, targets, smoothing)
    expected_nll = F.cross_entropy(logits, targets, reduction="sum")
    assert output.nll.item() == pytest.approx(expected_nll.item(), rel=1e-6)
    assert output.correct.item() == (logits.argmax(-1) == targets).sum().item()
    assert output.correct.item() >= 5
    assert not output.nll.requires_grad
    assert not output.correct.requires_grad


def test_smoothing_by_hand_on_one_token() -> None:
    # Logits (0, log 3) over V=2, target 1: p = (1/4, 3/4).
    # nll = -log .75; smoothed = (1 - .2) * nll + .2 * mean(-log p) = .8 nll + .1 (log 4 + log 4/3).
    hidden = torch.tensor([[1.0]], dtype=torch.float64)
    weight = torch.tensor([[0.0], [torch.tensor(3.0).log().item()]], dtype=torch.float64)
    output = projection_cross_entropy(hidden, weight, torch.tensor([1]), smoothing=0.2)
    nll = -torch.tensor(0.75).log().item()
    expected = 0.8 * nll + 0.1 * (torch.tensor(4.0).log() + torch.tensor(4 / 3).log()).item()
    assert output.nll.item() == pytest.approx(nll, rel=1e-6)
    assert output.loss.item() == pytest.approx(expected, rel=1e-6)
    assert output.correct.item() == 1


@pytest.mark.usefixtures("chunk_elements")
def test_gradcheck_in_float64() -> None:
    generator = torch.Generator().manual_seed(5)
    hidden = torch.randn(6, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(5, 4, generator=generator, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([0, 4, 2, 2, 1, 3])
    assert torch.autograd.gradcheck(
        lambda h, w: projection_cross_entropy(h, w, targets, 0.1).loss, (hidden, weight)
    )


def test_upstream_gradient_scales_both_gradients() -> None:
    hidden, weight, targets = inputs(torch.float64, seed=2)
    _, grad_hidden, grad_weight = fused(hidden, weight, targets, 0.1)
    hidden_leaf = hidden.clone().requires_grad_()
    weight_leaf = weight.clone().requires_grad_()
    output = projection_cross_entropy(hidden_leaf, weight_leaf, targets, 0.1)
    (output.loss * -2.5).backward()
    torch.testing.assert_close(hidden_leaf.grad, grad_hidden * -2.5)
    torch.testing.assert_close(weight_leaf.grad, grad_weight * -2.5)


def test_gradients_flow_to_the_layers_that_produced_hidden_and_weight() -> None:
    """The loss is differentiable end to end (here through a linear layer and a tied weight)."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(D, D).double()
    embedding = torch.nn.Embedding(V, D).double()
    x = torch.randn(N, D, dtype=torch.float64)
    targets = torch.randint(0, V, (N,))
    projection_cross_entropy(layer(x), embedding.weight, targets, 0.1).loss.backward()
    assert layer.weight.grad is not None
    assert embedding.weight.grad is not None
    fused_grads = [layer.weight.grad.clone(), embedding.weight.grad.clone()]
    layer.zero_grad()
    embedding.zero_grad()
    logits = layer(x) @ embedding.weight.T
    F.cross_entropy(logits, targets, label_smoothing=0.1, reduction="sum").backward()
    torch.testing.assert_close(fused_grads[0], layer.weight.grad)
    torch.testing.assert_close(fused_grads[1], embedding.weight.grad)


def test_no_gradient_needed_gives_the_same_values() -> None:
    hidden, weight, targets = inputs(torch.float32, seed=3)
    with torch.no_grad():
        plain = projection_cross_entropy(hidden, weight, targets, 0.1)
    expected = F.cross_entropy(hidden @ weight.T, targets, label_smoothing=0.1, reduction="sum")
    torch.testing.assert_close(plain.loss, expected)


@pytest.mark.parametrize("smoothing", [-0.1, 1.0])
def test_smoothing_must_be_in_range(smoothing: float) -> None:
    hidden, weight, targets = inputs(torch.float32)
    with pytest.raises(ValueError, match="label smoothing"):
        projection_cross_entropy(hidden, weight, targets, smoothing)


@pytest.mark.usefixtures("chunk_elements")
def test_bfloat16_autocast_is_close_to_the_float32_reference() -> None:
    hidden, weight, targets = inputs(torch.float32, seed=4)
    expected_loss, expected_grad_hidden, expected_grad_weight = reference(
        hidden, weight, targets, 0.1
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, grad_hidden, grad_weight = fused(hidden, weight, targets, 0.1)
    # bf16 keeps 8 bits of mantissa: relative errors of about 1% are expected.
    assert output.loss.dtype == torch.float32
    torch.testing.assert_close(output.loss, expected_loss, rtol=2e-2, atol=0.0)
    assert grad_hidden.dtype == grad_weight.dtype == torch.float32
    scale_hidden = expected_grad_hidden.abs().max().item()
    scale_weight = expected_grad_weight.abs().max().item()
    torch.testing.assert_close(grad_hidden, expected_grad_hidden, rtol=0, atol=3e-2 * scale_hidden)
    torch.testing.assert_close(grad_weight, expected_grad_weight, rtol=0, atol=3e-2 * scale_weight)


# -- teacher-forcing batches (data/batching) -------------------------------------------------
# These belong with the data tests; they live here because the loss consumes these batches.

PAD, BOS, EOS = 0, 2, 3
NOTES_VOCAB = {"<pad>": 0, "<s>": 2, "</s>": 3, "你": 10, "好": 11, "世": 12, "界": 13}


def test_teacher_forcing_shift_on_the_notes_example() -> None:
    ids = [NOTES_VOCAB[token] for token in ["你", "好", "世", "界"]]
    decoder_input, targets = teacher_forcing_shift(ids, BOS, EOS)
    names = {i: token for token, i in NOTES_VOCAB.items()}
    assert [names[i] for i in decoder_input] == ["<s>", "你", "好", "世", "界"]
    assert [names[i] for i in targets] == ["你", "好", "世", "界", "</s>"]
    assert decoder_input == [2, 10, 11, 12, 13]
    assert targets == [10, 11, 12, 13, 3]
    # Position i predicts the token that the input shows at position i + 1.
    assert decoder_input[1:] == targets[:-1]


def test_teacher_forcing_shift_of_an_empty_target() -> None:
    assert teacher_forcing_shift([], BOS, EOS) == ([BOS], [EOS])


def test_pad_sequences_right_pads_to_the_longest() -> None:
    padded = pad_sequences([[4, 5], [6], [7, 8, 9]], PAD)
    assert padded.dtype == torch.long
    assert padded.tolist() == [[4, 5, 0], [6, 0, 0], [7, 8, 9]]


def test_batch_from_token_ids_pads_and_shifts() -> None:
    batch = Batch.from_token_ids(
        [[20, 21, 22], [23]], [[10, 11, 12, 13], [14]], pad_id=PAD, bos_id=BOS, eos_id=EOS
    )
    assert batch.src_ids.tolist() == [[20, 21, 22, EOS], [23, EOS, PAD, PAD]]
    assert batch.tgt_in_ids.tolist() == [[BOS, 10, 11, 12, 13], [BOS, 14, PAD, PAD, PAD]]
    assert batch.tgt_out_ids.tolist() == [[10, 11, 12, 13, EOS], [14, EOS, PAD, PAD, PAD]]
    assert batch.num_target_tokens == 5 + 2  # each target plus its </s>, no padding
    assert batch.num_sentences == 2
    moved = batch.to("cpu")
    assert torch.equal(moved.tgt_out_ids, batch.tgt_out_ids)
    assert moved.pad_id == PAD


def lengths_for(count: int, seed: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    return [(rng.randint(1, 30), rng.randint(1, 30)) for _ in range(count)]


@pytest.mark.parametrize("max_tokens", [1, 25, 64, 500])
def test_token_budget_batches_respect_the_budget_and_cover_every_index_once(
    max_tokens: int,
) -> None:
    lengths = lengths_for(200, seed=0)
    batches = token_budget_batches(lengths, max_tokens, random.Random(1))
    assert sorted(i for batch in batches for i in batch) == list(range(200))
    for batch in batches:
        padded_size = max(max(lengths[i]) for i in batch) * len(batch)
        # A single example longer than the budget forms its own batch.
        assert padded_size <= max_tokens or len(batch) == 1


def test_token_budget_batches_fill_up_to_the_budget() -> None:
    # Equal lengths of 10 and a budget of 35: batches of 3 (30 tokens), then the rest.
    batches = token_budget_batches([(10, 10)] * 7, 35)
    assert [len(batch) for batch in batches] == [3, 3, 1]


def test_token_budget_batches_group_similar_lengths_without_rng() -> None:
    lengths = [(5, 9), (2, 2), (8, 8), (3, 1), (9, 9)]
    # Sorted by target then source length: 3 (1), 1 (2), 2 (8), 0 (9, src 5), 4 (9, src 9).
    assert token_budget_batches(lengths, 16) == [[3, 1], [2], [0], [4]]


def test_token_budget_batches_are_deterministic_for_a_seeded_rng() -> None:
    lengths = lengths_for(100, seed=2)
    first = token_budget_batches(lengths, 60, random.Random(5))
    again = token_budget_batches(lengths, 60, random.Random(5))
    other = token_budget_batches(lengths, 60, random.Random(6))
    assert first == again
    assert first != other


def test_token_budget_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        token_budget_batches([(1, 1)], 0)
