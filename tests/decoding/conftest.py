"""Models for the search tests: a random one and one briefly trained on the copy task.

The random model almost never emits ``</s>`` (hypotheses end at their length limit); the copy
model ends sentences at different steps, so sentences leave the batch at different times.
Training the copy model is also the end-to-end test that training works (``test_copy_task.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from transformer_mt.data.batching import Batch
from transformer_mt.model import Transformer
from transformer_mt.training.loss import projection_cross_entropy

PAD, BOS, EOS = 0, 2, 3
FIRST_WORD, VOCAB = 4, 24


def random_copy_pairs(
    count: int, generator: torch.Generator
) -> tuple[list[list[int]], list[list[int]]]:
    lengths = torch.randint(1, 7, (count,), generator=generator).tolist()
    sources = [
        torch.randint(FIRST_WORD, VOCAB, (n,), generator=generator).tolist() for n in lengths
    ]
    return sources, sources


def train_copy_model(
    make_model: Callable[..., Transformer], steps: int, seed: int = 0
) -> Transformer:
    """Teacher-forced training on "output = input" with the fused loss; returns an eval model.

    Runs on one thread whatever earlier tests set, so that the float reductions, hence the
    trained weights, are the same in every session.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # Xavier: at width 32, N(0, 0.02) weights are too small to learn the copy in 300 steps.
        model = make_model(seed=seed, d_model=32, d_ff=64, init="xavier")
        return _train(model, steps, seed)
    finally:
        torch.set_num_threads(threads)


def _train(model: Transformer, steps: int, seed: int) -> Transformer:
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        sources, targets = random_copy_pairs(32, generator)
        batch = Batch.from_token_ids(sources, targets, pad_id=PAD, bos_id=BOS, eos_id=EOS)
        hidden = model.decode(batch.tgt_in_ids, model.encode(batch.src_ids), batch.src_ids)
        real = batch.tgt_out_ids != PAD  # (B, T)
        output = projection_cross_entropy(
            hidden[real], model.output_projection.weight, batch.tgt_out_ids[real]
        )
        optimizer.zero_grad()
        (output.loss / batch.num_target_tokens).backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="session")
def copy_model(make_model: Callable[..., Transformer]) -> Transformer:
    """Trained for 300 steps (about 3 s): it copies almost every short sentence and ends it."""
    return train_copy_model(make_model, steps=300)


def lively_random_model(make_model: Callable[..., Transformer]) -> Transformer:
    """Untied output layer with larger weights: varied, prefix-dependent predictions."""
    model = make_model(seed=0, tie_output=False)
    with torch.no_grad():
        model.output_projection.weight.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(0))
    return model


@pytest.fixture(params=["random", "copy"])
def search_model(
    request: pytest.FixtureRequest,
    make_model: Callable[..., Transformer],
    copy_model: Transformer,
) -> Transformer:
    if request.param == "random":
        return lively_random_model(make_model)
    return copy_model
