"""Repetition guards: decoding-side defences against a model that stutters ("你好世界世界").

Three guards, as HF ``generate`` and CTranslate2 offer them, applied to each step's
log-probabilities ``(A, V)`` given each row's tokens so far ``(A, L)``:

- ``max_token_repeat = N``: a token may appear at most N times in a row (the (N+1)-th is
  blocked);
- ``no_repeat_ngram_size = n``: no n-gram may occur twice in an output (the token that would
  complete a repeat is blocked);
- ``repetition_penalty = p``: the log-probability of every token already in the output is
  multiplied by ``p`` (> 1 discourages repeats; log-probabilities are negative).

Blocking guards set ``-inf`` and leave every other log-probability as the model gave it, so
reported scores stay the model's own (teacher-forced rescoring gives the same numbers); the
penalty changes the scores it is applied to, and they are reported as such (as in HF).

Shape letters: A rows (hypotheses), V vocabulary, L tokens so far, W n-gram windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RepetitionGuard:
    """The guards a :class:`~transformer_mt.config.decoding.DecodingOptions` asks for."""

    max_token_repeat: int = 0  # 0 = off
    no_repeat_ngram_size: int = 0  # 0 = off
    repetition_penalty: float = 1.0  # 1 = off

    @property
    def active(self) -> bool:
        return bool(self.max_token_repeat or self.no_repeat_ngram_size) or (
            self.repetition_penalty != 1.0
        )

    def blocked(self, history: torch.Tensor, vocab: int) -> torch.Tensor:
        """Tokens the blocking guards forbid next: history ``(A, L)`` -> mask ``(A, V)``."""
        mask = torch.zeros(history.shape[0], vocab, dtype=torch.bool, device=history.device)
        if self.max_token_repeat:
            _block_long_runs(mask, history, self.max_token_repeat)
        if self.no_repeat_ngram_size:
            _block_repeated_ngrams(mask, history, self.no_repeat_ngram_size)
        return mask  # (A, V)

    def apply(self, log_probs: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        """Guarded log-probabilities ``(A, V)`` (changed in place) given ``history (A, L)``."""
        if self.repetition_penalty != 1.0 and history.shape[1]:
            seen = log_probs.gather(1, history)  # (A, L)
            log_probs.scatter_(1, history, seen * self.repetition_penalty)
        if self.max_token_repeat or self.no_repeat_ngram_size:
            log_probs.masked_fill_(self.blocked(history, log_probs.shape[1]), float("-inf"))
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


NO_GUARD = RepetitionGuard()  # every guard off: the searches' default
