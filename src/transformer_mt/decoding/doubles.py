"""The unseen-double guard's lookup table: which next tokens would double a character that the
training data never doubles (see :mod:`transformer_mt.data.reduplication`).

A token *doubles* the character ``c`` when the output so far ends in ``c`` and the token's text
starts with ``c`` ("喝水" + "水"; "帐" + "帐单"). For each token the table lists the tokens that
would double its last character, where that double is unseen; the guard then blocks them with one
gather per step, however large the vocabulary.

Shape letters: A rows (hypotheses), V vocabulary, L tokens so far, C characters that end a token
and are never doubled, K most tokens starting with one such character.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass

import torch

from transformer_mt.data.reduplication import is_ideograph
from transformer_mt.data.tokenizer import Tokenizer

WORD_START = "\u2581"  # SentencePiece's mark of a piece that starts a word


@dataclass(frozen=True)
class DoubleTable:
    """For every token, the tokens that would double its last character unseen."""

    slots: torch.Tensor  # (V,) long: each token's row of ``followers`` (the last row is empty)
    followers: torch.Tensor  # (C + 1, K) long: token ids, -1 where a row is shorter

    @classmethod
    def build(cls, pieces: Sequence[str | None], allowed: Set[str]) -> DoubleTable:
        """``pieces[i]``: the text token ``i`` spells (``None`` for specials and bytes);
        ``allowed``: the characters that may double."""
        starting: dict[str, list[int]] = {}
        for token, text in enumerate(pieces):
            if text and _doubles(text[0], allowed):
                starting.setdefault(text[0], []).append(token)
        rows = {char: row for row, char in enumerate(starting)}
        width = max((len(tokens) for tokens in starting.values()), default=1)
        followers = torch.full((len(rows) + 1, width), -1, dtype=torch.long)  # (C + 1, K)
        for char, row in rows.items():
            followers[row, : len(starting[char])] = torch.tensor(starting[char])
        empty = len(rows)
        slots = torch.tensor(
            [rows.get(text[-1], empty) if text else empty for text in pieces], dtype=torch.long
        )  # (V,)
        return cls(slots, followers)

    def block(self, mask: torch.Tensor, history: torch.Tensor) -> None:
        """Set ``mask (A, V)`` where the next token would double a character unseen, given the
        tokens so far ``history (A, L)``."""
        if not history.shape[1]:
            return
        candidates = self.followers.to(history.device)[
            self.slots.to(history.device)[history[:, -1]]
        ]  # (A, K)
        rows, columns = (candidates >= 0).nonzero(as_tuple=True)  # (R,) each
        mask[rows, candidates[rows, columns]] = True


def _doubles(char: str, allowed: Set[str]) -> bool:
    """Whether writing ``char`` twice is a double the table must police (CJK only)."""
    return char not in allowed and is_ideograph(char)


def double_table(tokenizer: Tokenizer) -> DoubleTable | None:
    """The table for a tokenizer's target side; ``None`` where it has no record of the training
    data's doubles (the guard is then off)."""
    if tokenizer.target_doubles is None:
        return None
    size = tokenizer.target_vocab_size
    characters = tokenizer.target_piece_characters()
    pieces = [
        piece.lstrip(WORD_START) if characters[token] else None
        for token, piece in enumerate(tokenizer.target_id_pieces(range(size)))
    ]
    return DoubleTable.build(pieces, tokenizer.target_doubles)
