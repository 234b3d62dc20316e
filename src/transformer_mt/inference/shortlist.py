"""A vocabulary shortlist: the target tokens a batch may produce, from its source tokens.

Shape letters: B sentences, S source length, Vs / Vt source / target vocabulary, K candidates per
source token, C candidates of a batch.

Built once from the training pairs (``transformer-mt shortlist RUN``): for each source token, the
``top`` target tokens that co-occur with it most specifically (Dice coefficient of sentence
co-occurrence, ``2 c(s, t) / (c(s) + c(t))``), plus the ``frequent`` most common target tokens
(function words, punctuation) and the special tokens. Decoding then scores, for each sentence,
only its own source tokens' candidates (Marian's lexical shortlist; CTranslate2's ``vmap`` takes
the union over the batch instead): the output layer and the softmax shrink from ``Vt`` rows to a
few hundred, and a sentence's output never depends on the other sentences of its batch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from transformer_mt.errors import UserError

FILE_NAME = "shortlist.safetensors"


@dataclass(frozen=True)
class Shortlist:
    """``table (Vs, K)``: target candidates of each source token (-1: none); ``always (F,)``:
    target tokens every batch may produce (frequent and special ones)."""

    table: torch.Tensor  # (Vs, K) int64
    always: torch.Tensor  # (F,) int64

    def candidates(self, src_ids: torch.Tensor) -> torch.Tensor:
        """The target ids each sentence of ``src_ids (B, S)`` may produce, sorted, padded
        with -1: ``(B, W)`` int64 (W: the longest list). Row ``b`` lists
        :meth:`sentence_candidates` of sentence ``b``, found for the whole batch at once."""
        present = src_ids.cpu().clamp(0, self.table.shape[0] - 1)  # (B, S)
        listed = self.table[present].flatten(1)  # (B, S * K), -1 for none
        bound = self.target_bound  # one past the largest target id; -1 goes to this column
        chosen = torch.zeros(present.shape[0], bound + 1, dtype=torch.bool)  # (B, Vt + 1)
        chosen.scatter_(1, listed % (bound + 1), True)
        chosen[:, self.always] = True
        chosen = chosen[:, :bound]  # (B, Vt)
        counts = chosen.sum(dim=1)  # (B,)
        rows, ids = chosen.nonzero(as_tuple=True)  # row-major: each row's ids ascending
        starts = counts.cumsum(0) - counts  # (B,) where each row's ids begin
        width = int(counts.max()) if counts.numel() else 0
        out = torch.full((present.shape[0], width), -1, dtype=torch.long)
        out[rows, torch.arange(ids.numel()) - starts[rows]] = ids
        return out.to(src_ids.device)

    @functools.cached_property
    def target_bound(self) -> int:
        """One past the largest target id the shortlist holds."""
        return int(max(self.table.max().item(), self.always.max().item(), -1)) + 1

    def sentence_candidates(self, src_ids: torch.Tensor) -> torch.Tensor:
        """The sorted target ids one sentence ``src_ids (S,)`` may produce: ``(C,)``."""
        present = torch.unique(src_ids.clamp(0, self.table.shape[0] - 1))  # (U,)
        listed = self.table.index_select(0, present).flatten()  # (U * K,)
        return torch.unique(torch.cat([listed[listed >= 0], self.always]))

    def save(self, path: Path) -> None:
        save_file({"table": self.table.contiguous(), "always": self.always.contiguous()}, path)

    @classmethod
    def load(cls, path: Path) -> Shortlist:
        """A saved shortlist; a missing or unreadable file is a :class:`UserError`."""
        try:
            with safe_open(str(path), framework="pt") as tensors:
                table, always = tensors.get_tensor("table"), tensors.get_tensor("always")
        except FileNotFoundError:
            raise UserError(
                f"{path}: no vocabulary shortlist; make one with "
                f"'transformer-mt shortlist {path.parent}'"
            ) from None
        except Exception as error:  # safetensors raises its own error types
            raise UserError(f"{path}: not a shortlist file ({error})") from None
        if table.dim() != 2 or always.dim() != 1:
            raise UserError(f"{path}: not a shortlist file (tensor shapes)")
        return cls(table.long(), always.long())


CHUNK = 20_000  # pairs counted at a time (bounds the temporary arrays)


def cooccurrence_counts(
    sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]], target_vocab: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sentence co-occurrence counts: the keys ``s * Vt + t`` of the pairs that occur (each
    token once per sentence), sorted, and their counts."""
    keys, counts = np.zeros(0, np.int64), np.zeros(0, np.int64)
    for start in range(0, len(sources), CHUNK):
        pairs = zip(sources[start : start + CHUNK], targets[start : start + CHUNK], strict=True)
        chunk = [_pair_keys(source, target, target_vocab) for source, target in pairs]
        new_keys, new_counts = np.unique(np.concatenate(chunk or [keys]), return_counts=True)
        keys, counts = _merge(keys, counts, new_keys, new_counts)
    return keys, counts


def _pair_keys(source: Sequence[int], target: Sequence[int], target_vocab: int) -> np.ndarray:
    """Every (source token, target token) of one sentence pair as ``s * Vt + t``."""
    s = np.unique(np.asarray(source, dtype=np.int64))
    t = np.unique(np.asarray(target, dtype=np.int64))
    return (s[:, None] * target_vocab + t[None, :]).ravel()


def _merge(
    keys: np.ndarray, counts: np.ndarray, more_keys: np.ndarray, more_counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Two sorted (key, count) tables -> one, counts of equal keys summed."""
    merged, inverse = np.unique(np.concatenate([keys, more_keys]), return_inverse=True)
    total = np.zeros(merged.shape[0], np.int64)
    np.add.at(total, inverse, np.concatenate([counts, more_counts]))
    return merged, total


def sentence_counts(sentences: Sequence[Sequence[int]], vocab: int) -> np.ndarray:
    """In how many sentences each token occurs: ``(vocab,)``."""
    counts = np.zeros(vocab, dtype=np.int64)
    for sentence in sentences:
        counts[np.unique(np.asarray(sentence, dtype=np.int64))] += 1
    return counts


def build_shortlist(
    sources: Sequence[Sequence[int]],
    targets: Sequence[Sequence[int]],
    source_vocab: int,
    target_vocab: int,
    *,
    top: int = 50,
    frequent: int = 100,
    special: Sequence[int] = (),
) -> Shortlist:
    """The shortlist of token-id pairs ``sources[i]``/``targets[i]`` (see the module)."""
    if top < 1 or frequent < 0:
        raise UserError(f"shortlist: top must be >= 1 and frequent >= 0 (got {top}, {frequent})")
    keys, counts = cooccurrence_counts(sources, targets, target_vocab)
    source_ids, target_ids = keys // target_vocab, keys % target_vocab
    source_counts = sentence_counts(sources, source_vocab)
    target_counts = sentence_counts(targets, target_vocab)
    dice = 2.0 * counts / (source_counts[source_ids] + target_counts[target_ids])
    # Best first within each source token: sort by (source, -dice), keep the first `top` of each.
    order = np.lexsort((-dice, source_ids))
    source_ids, target_ids = source_ids[order], target_ids[order]
    starts = np.searchsorted(source_ids, np.arange(source_vocab))  # (Vs,)
    rank = np.arange(source_ids.shape[0]) - starts[source_ids]
    kept = rank < top
    table = np.full((source_vocab, top), -1, dtype=np.int64)
    table[source_ids[kept], rank[kept]] = target_ids[kept]
    common = np.argsort(-target_counts, kind="stable")[:frequent]
    always = np.unique(np.concatenate([common, np.asarray(special, dtype=np.int64)]))
    return Shortlist(torch.from_numpy(table), torch.from_numpy(always))
