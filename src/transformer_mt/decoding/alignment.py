"""Word alignments from cross-attention, printed as Pharaoh ``i-j`` pairs (fast_align, Marian).

One teacher-forced pass over (source, output) gives the chosen decoder layer's cross-attention;
the chosen heads are averaged into a token matrix ``(T, S)``: where the model looks in the source
around each output token. Source pieces are summed into source words and target tokens averaged
into target words (:mod:`.pieces`: whitespace tokens, each CJK character a word), and each
target word is aligned to the source word it attends to most: ``i-j`` = source word ``i``, target
word ``j``, 0-based. The source's ``</s>`` (where heads park attention) is never aligned to.

The layer, the heads and whether to read the step that *predicts* a token or the one that has
just *read* it were chosen by ``benchmarks/alignment_heads.py`` (agreement with CC-CEDICT
links on the quick-start model's test split; the numbers are in docs/output-control.md).

Shape letters: B pairs, H heads, T target length, S source length, W words.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.decoding.pieces import piece_bytes, token_words
from transformer_mt.model.factory import Model
from transformer_mt.model.transformer import Transformer

Alignment = tuple[tuple[int, int], ...]  # (source word, target word) pairs, sorted
PAIRS_PER_PASS = 64  # pairs aligned by one teacher-forced pass


@dataclass(frozen=True)
class AlignmentHeads:
    """Which cross-attention aligns: a decoder layer, some of its heads, which step."""

    layer: int = -1  # decoder layer (negative: counted from the last)
    heads: tuple[int, ...] | None = None  # heads averaged; None: all
    after_reading: bool = False  # True: the step that reads token t (predicts t + 1)


# Chosen by benchmarks/alignment_heads.py (see docs/output-control.md#word-alignments).
DEFAULT_ALIGNMENT_HEADS = AlignmentHeads(layer=-1, heads=None, after_reading=False)


@dataclass(frozen=True)
class Aligner:
    """Aligns outputs to their sources with one model."""

    model: Transformer
    source_bytes: Sequence[bytes]  # what each source token adds to the text ("" for specials)
    target_bytes: Sequence[bytes]  # the same for target tokens
    heads: AlignmentHeads = DEFAULT_ALIGNMENT_HEADS

    def align(
        self, sources: Sequence[Sequence[int]], outputs: Sequence[Sequence[int]]
    ) -> list[Alignment]:
        """Word alignment of each output (target ids, ``</s>`` or not) with its source (ids
        with ``</s>``)."""
        matrices: list[torch.Tensor] = []
        for start in range(0, len(sources), PAIRS_PER_PASS):
            end = start + PAIRS_PER_PASS
            matrices += self.token_attention(sources[start:end], outputs[start:end])
        return [
            word_alignment(
                matrix,
                self.source_words(src),
                self.target_words(out),
            )
            for matrix, src, out in zip(matrices, sources, outputs, strict=True)
        ]

    @torch.inference_mode()
    def token_attention(
        self, sources: Sequence[Sequence[int]], outputs: Sequence[Sequence[int]]
    ) -> list[torch.Tensor]:
        """Per pair, the chosen heads' mean cross-attention ``(T, S)``: row t for output
        token t (its ``</s>`` excluded), column s for source token s."""
        config = self.model.config
        device = next(self.model.parameters()).device
        targets = [[token for token in out if token != config.eos_id] for out in outputs]
        src = _padded(sources, config.pad_id, device)  # (B, S)
        tgt = _padded([[config.bos_id, *t] for t in targets], config.pad_id, device)  # (B, T+1)
        weights: list[dict[str, torch.Tensor]] = []
        self.model.decode(tgt, self.model.encode(src), src, weights=weights)
        cross = weights[self.heads.layer]["cross"].float()  # (B, H, T+1, S)
        if self.heads.heads is not None:
            cross = cross[:, list(self.heads.heads)]  # (B, H', T+1, S)
        mean = cross.mean(dim=1)  # (B, T+1, S)
        start = 1 if self.heads.after_reading else 0
        return [
            mean[b, start : start + len(t), : len(s)].cpu()
            for b, (s, t) in enumerate(zip(sources, targets, strict=True))
        ]

    @classmethod
    def build(cls, model: Model, tokenizer: Tokenizer, target_bytes: Sequence[bytes]) -> Aligner:
        """The aligner of a model and its tokenizer (``target_bytes``: see :class:`Aligner`)."""
        if not isinstance(model, Transformer):
            raise ValueError(f"word alignments need a Transformer, not a {model.config.kind!r}")
        pieces = tokenizer.source_id_pieces(range(tokenizer.source_vocab_size))
        specials = {tokenizer.pad_id, tokenizer.unk_id, tokenizer.bos_id, tokenizer.eos_id}
        source_bytes = [b"" if i in specials else piece_bytes(p) for i, p in enumerate(pieces)]
        return cls(model, source_bytes, target_bytes)

    def source_words(self, ids: Sequence[int]) -> list[int | None]:
        """The word of each source token (None: ``</s>``, a lone space)."""
        owners = token_words(self.token_bytes(ids, source=True))
        return [words[0] if words else None for words in owners]

    def target_words(self, ids: Sequence[int]) -> list[list[int]]:
        """The words each target token spells (``</s>`` left out)."""
        return token_words(self.token_bytes(ids, source=False))

    def token_bytes(self, ids: Sequence[int], *, source: bool) -> list[bytes]:
        """What each token of ``ids`` adds to the text (a target's ``</s>`` left out)."""
        table = self.source_bytes if source else self.target_bytes
        eos = self.model.config.eos_id
        return [table[i] for i in ids if source or i != eos]


def _padded(rows: Sequence[Sequence[int]], pad: int, device: torch.device) -> torch.Tensor:
    width = max(len(row) for row in rows)
    return torch.tensor([[*row, *[pad] * (width - len(row))] for row in rows], device=device)


def word_alignment(
    attention: torch.Tensor,
    source_word: Sequence[int | None],
    target_words: Sequence[Sequence[int]],
) -> Alignment:
    """Pairs ``(i, j)``: target word j's most attended source word i.

    ``attention`` ``(T, S)``; ``source_word[s]``: the word of source token s (None: ``</s>`` or
    a lone space); ``target_words[t]``: the words target token t spells."""
    source_count = max((w for w in source_word if w is not None), default=-1) + 1
    target_count = max((w for words in target_words for w in words), default=-1) + 1
    if not source_count or not target_count:
        return ()
    pieces_to_words = torch.zeros(len(source_word), source_count)  # (S, Ws)
    for piece, word in enumerate(source_word):
        if word is not None:
            pieces_to_words[piece, word] = 1.0
    per_token = attention @ pieces_to_words  # (T, Ws)
    totals = torch.zeros(target_count, source_count)  # (Wt, Ws)
    for token, words in enumerate(target_words):
        for word in words:
            totals[word] += per_token[token]
    best = totals.argmax(dim=1).tolist()  # (Wt,)
    spelled = {word for words in target_words for word in words}
    return tuple(sorted((best[j], j) for j in spelled))


def pharaoh(alignment: Alignment) -> str:
    """``0-0 1-2 ...``: the alignment as fast_align and Marian print it."""
    return " ".join(f"{i}-{j}" for i, j in alignment)
