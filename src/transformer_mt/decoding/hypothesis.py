"""Search results and the length penalty shared by every search strategy."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hypothesis:
    """One output sequence for one source sentence."""

    tokens: tuple[int, ...]  # generated target ids, without <s>, including </s> when finished
    log_prob: float  # total log-probability of ``tokens`` under the model (teacher-forced)
    score: float  # the ranking score: log_prob / len(tokens) ** length_penalty
    finished: bool  # True if it ended with </s>, False if it hit the length limit


def length_normalised(log_prob: float, length: int, length_penalty: float) -> float:
    """``log_prob / length ** length_penalty``; 0 ranks by total log-probability, 1 by average."""
    return log_prob / max(length, 1) ** length_penalty
