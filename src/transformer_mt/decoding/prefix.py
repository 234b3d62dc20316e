"""Forced tokens: a target prefix, and any other step where a row may take only chosen tokens.

A search forces a token by leaving it the only finite log-probability of its row (its value the
model's own, so the reported score stays the teacher-forced log-probability of the output) and
by exempting it from the blocking repetition guards, which could otherwise make it impossible.

Shape letters: A rows (hypotheses), V vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

RowTokens = tuple[list[int], list[int]]  # parallel lists: rows and one token each


def prefix_tokens(
    prefixes: Sequence[Sequence[int]] | None, sentence_of_row: Sequence[int], step: int
) -> RowTokens:
    """The rows still inside their sentence's prefix at ``step`` (0-based) and the token each
    must take there; ``sentence_of_row[r]`` is row r's index into ``prefixes``."""
    rows: list[int] = []
    tokens: list[int] = []
    if prefixes is None:
        return rows, tokens
    for row, sentence in enumerate(sentence_of_row):
        prefix = prefixes[sentence]
        if step < len(prefix):
            rows.append(row)
            tokens.append(prefix[step])
    return rows, tokens


def token_mask(shape: tuple[int, int], allowed: RowTokens, device: torch.device) -> torch.Tensor:
    """A boolean ``(A, V)`` mask, True at each ``(row, token)`` pair of ``allowed``."""
    mask = torch.zeros(shape, dtype=torch.bool, device=device)
    rows, tokens = allowed
    if rows:
        mask[torch.tensor(rows, device=device), torch.tensor(tokens, device=device)] = True
    return mask


def keep_only(log_probs: torch.Tensor, allowed: torch.Tensor, rows: Sequence[int]) -> None:
    """In place: in each of ``rows``, every token outside ``allowed`` ``(A, V)`` gets ``-inf``;
    the allowed ones keep their log-probabilities. ``log_probs`` ``(A, V)``."""
    if not rows:
        return
    index = torch.tensor(sorted(set(rows)), device=log_probs.device)  # (R,)
    chosen = log_probs.index_select(0, index)  # (R, V)
    chosen.masked_fill_(~allowed.index_select(0, index), float("-inf"))
    log_probs.index_copy_(0, index, chosen)
