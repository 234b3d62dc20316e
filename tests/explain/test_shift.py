"""The teacher-forcing table: <s> + y[:-1] in, y + </s> out, probabilities from one real pass."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F  # noqa: N812 (the conventional alias)

from transformer_mt.decoding.translator import Translator
from transformer_mt.explain.shift import shift_table

SOURCE, TARGET = "we eat rice today", "们吃饭今"


def test_the_table_is_the_shift(translator: Translator) -> None:
    table = shift_table(translator, SOURCE, TARGET)
    y = translator.tokenizer.target_pieces(TARGET)
    assert [row.decoder_input for row in table.rows] == ["<s>", *y]  # <s> + y[:-1] of y + </s>
    assert [row.target for row in table.rows] == [*y, "</s>"]
    assert [row.position for row in table.rows] == list(range(1, len(y) + 2))
    assert not table.target_from_model


@torch.inference_mode()
def test_probabilities_are_exp_of_minus_the_per_token_cross_entropy(
    translator: Translator,
) -> None:
    table = shift_table(translator, SOURCE, TARGET)
    config = translator.model.config
    (source_ids,), _ = translator.encode_sources([SOURCE])
    (y,) = translator.tokenizer.encode_target([TARGET])
    logits = translator.model(torch.tensor([source_ids]), torch.tensor([[config.bos_id, *y]]))[
        0
    ]  # (T, V)
    cross_entropy = F.cross_entropy(logits, torch.tensor([*y, config.eos_id]), reduction="none")
    for row, ce in zip(table.rows, cross_entropy.tolist(), strict=True):
        assert row.probability == pytest.approx(math.exp(-ce), rel=1e-5)
        assert row.predicted_probability >= row.probability
    assert table.loss == pytest.approx(float(cross_entropy.mean()), rel=1e-5)
    predicted = translator.tokenizer.target_id_pieces(logits.argmax(dim=-1).tolist())
    assert [row.predicted for row in table.rows] == predicted
    json.dumps(table.to_dict())


def test_without_a_target_the_table_shifts_the_greedy_translation(
    translator: Translator,
) -> None:
    table = shift_table(translator, SOURCE)
    (result,) = translator.translate_detailed([SOURCE], beam_size=1)
    tokens = translator.tokenizer.target_id_pieces(result.candidates[0].tokens)
    assert table.target_from_model
    assert [row.target for row in table.rows][:-1] == [t for t in tokens if t != "</s>"]
    # Greedy picked every one of these tokens, so each is the argmax under teacher forcing.
    assert table.accuracy == 1.0 or tokens[-1] != "</s>"
