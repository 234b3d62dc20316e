"""Repetition guards: decoding-side defences against a model that stutters ("你好世界世界").

Three guards, as HF ``generate`` and CTranslate2 offer them, applied to each step's
log-probabilities ``(A, V)`` given each row's tokens so far ``(A, L)``:

- ``max_token_repeat = N``: a token may appear at most N times in a row (the (N+1)-th is
  blocked);
- ``no_repeat_ngram_size = n``: no n-gram may occur twice in an output (the token that would
  complete a repeat is blocked);
- ``no_repeat_chunk_size = n``: no chunk of 1 to n tokens may come twice in a row if it spells
  two characters or more ("帮我帮我", "the the"); a single character may still double
  ("奶奶", "慢慢": reduplication), and unlike the n-gram rule a phrase may come back later in
  the sentence. Single tokens need ``piece_chars`` (characters per token, from the tokenizer;
  the ``Translator`` supplies it);
- ``no_unseen_doubles``: no CJK character may be doubled ("喝水水", "帐帐单") unless the training
  targets double it (妈妈, 慢慢, 天天); needs ``doubles``, the tokenizer's table
  (:mod:`.doubles`; the ``Translator`` supplies it), and is off without one;
- ``repetition_penalty = p``: the log-probability of every token already in the output is
  multiplied by ``p`` (> 1 discourages repeats; log-probabilities are negative).

Blocking guards set ``-inf`` and leave every other log-probability as the model gave it, so
reported scores stay the model's own (teacher-forced rescoring gives the same numbers); the
penalty changes the scores it is applied to, and they are reported as such (as in HF).

Shape letters: A rows (hypotheses), V vocabulary, L tokens so far, W n-gram windows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from transformer_mt.config.decoding import DecodingOptions
from transformer_mt.decoding.doubles import DoubleTable

BlockObserver = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], None]


@dataclass(frozen=True)
class RepetitionGuard:
    """The guards a :class:`~transformer_mt.config.decoding.DecodingOptions` asks for."""

    max_token_repeat: int = 0  # 0 = off
    no_repeat_ngram_size: int = 0  # 0 = off
    repetition_penalty: float = 1.0  # 1 = off
    no_repeat_chunk_size: int = 0  # 0 = off
    no_unseen_doubles: bool = False
    # Characters each target token spells (V,), for single-token chunks; None: not counted.
    piece_chars: torch.Tensor | None = field(default=None, compare=False, repr=False)
    # The tokens that would double a character unseen, for no_unseen_doubles; None: off.
    doubles: DoubleTable | None = field(default=None, compare=False, repr=False)
    # Observer (explain's traces): called each step with the log-probs before blocking (A, V),
    # the block mask (A, V) and the tokens so far (A, L).
    on_block: BlockObserver | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_options(
        cls,
        options: DecodingOptions,
        piece_chars: torch.Tensor | None = None,
        doubles: DoubleTable | None = None,
    ) -> RepetitionGuard:
        return cls(
            max_token_repeat=options.max_token_repeat,
            no_repeat_ngram_size=options.no_repeat_ngram_size,
            repetition_penalty=options.repetition_penalty,
            no_repeat_chunk_size=options.no_repeat_chunk_size,
            no_unseen_doubles=not options.allow_unseen_doubles,
            piece_chars=piece_chars,
            doubles=doubles,
        )

    @property
    def active(self) -> bool:
        return self.blocking or self.repetition_penalty != 1.0

    @property
    def blocking(self) -> bool:
        """Whether a guard that forbids tokens is on."""
        doubles = self.no_unseen_doubles and self.doubles is not None
        repeats = self.max_token_repeat or self.no_repeat_ngram_size or self.no_repeat_chunk_size
        return bool(repeats) or doubles

    def blocked(self, history: torch.Tensor, vocab: int) -> torch.Tensor:
        """Tokens the blocking guards forbid next: history ``(A, L)`` -> mask ``(A, V)``."""
        mask = torch.zeros(history.shape[0], vocab, dtype=torch.bool, device=history.device)
        if self.max_token_repeat:
            _block_long_runs(mask, history, self.max_token_repeat)
        if self.no_repeat_ngram_size:
            _block_repeated_ngrams(mask, history, self.no_repeat_ngram_size)
        if self.no_repeat_chunk_size:
            _block_repeated_chunks(mask, history, self.no_repeat_chunk_size, self.piece_chars)
        if self.no_unseen_doubles and self.doubles is not None:
            self.doubles.block(mask, history)
        return mask  # (A, V)

    def apply(
        self, log_probs: torch.Tensor, history: torch.Tensor, exempt: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Guarded log-probabilities ``(A, V)`` (changed in place) given ``history (A, L)``.

        ``exempt`` ``(A, V)``: tokens the blocking guards leave alone (a forced prefix token,
        the next token of a terminology constraint), so that no guard can make a forced
        output impossible; the repetition penalty still applies to them."""
        if self.repetition_penalty != 1.0 and history.shape[1]:
            seen = log_probs.gather(1, history)  # (A, L)
            log_probs.scatter_(1, history, seen * self.repetition_penalty)
        if self.blocking:
            mask = self.blocked(history, log_probs.shape[1])  # (A, V)
            if exempt is not None:
                mask &= ~exempt
            if self.on_block is not None:
                self.on_block(log_probs, mask, history)
            log_probs.masked_fill_(mask, float("-inf"))
        return log_probs


def _block_long_runs(mask: torch.Tensor, history: torch.Tensor, limit: int) -> None:
    """Block the last token of rows whose last ``limit`` tokens are all that token."""
    if history.shape[1] < limit:
        return
    tail = history[:, -limit:]  # (A, N)
    full_run = (tail == tail[:, -1:]).all(dim=1)  # (A,)
    rows = full_run.nonzero()[:, 0]  # (R,)
    mask[rows, tail[rows, -1]] = True


def _block_repeated_ngrams(mask: torch.Tensor, history: torch.Tensor, size: int) -> None:
    """Block every token that would complete an n-gram the row already holds."""
    length = history.shape[1]
    if length < size:
        return
    if size == 1:
        mask.scatter_(1, history, True)
        return
    windows = history.unfold(1, size, 1)  # (A, W, n), W = L - n + 1
    prefix = history[:, length - size + 1 :]  # (A, n-1): the n-gram the next token completes
    matches = (windows[:, :, :-1] == prefix[:, None, :]).all(dim=2)  # (A, W)
    rows, starts = matches.nonzero(as_tuple=True)  # (R,) each
    mask[rows, windows[rows, starts, -1]] = True


def _block_repeated_chunks(
    mask: torch.Tensor, history: torch.Tensor, largest: int, piece_chars: torch.Tensor | None
) -> None:
    """Block the token that would end the output in a chunk of 1..``largest`` tokens written
    twice in a row (one token only if it spells two characters or more): with m tokens of the
    second copy still to come, it is the first copy's last token when the m - 1 tokens after
    that copy repeat its start."""
    length = history.shape[1]
    if piece_chars is not None and length:
        last = history[:, -1]  # (A,)
        rows = (piece_chars.to(last.device)[last] >= 2).nonzero()[:, 0]  # (R,)
        mask[rows, last[rows]] = True
    for size in range(2, largest + 1):
        if length < 2 * size - 1:
            break
        first = history[:, length - 2 * size + 1 : length - size]  # (A, m-1) start of copy 1
        second = history[:, length - size + 1 :]  # (A, m-1) the second copy so far
        rows = (first == second).all(dim=1).nonzero()[:, 0]  # (R,)
        mask[rows, history[rows, length - size]] = True


NO_GUARD = RepetitionGuard()  # every guard off: the searches' default
