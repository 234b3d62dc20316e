"""Beam search with target prefixes and terminology constraints (dynamic beam allocation).

The search of :class:`~transformer_mt.decoding.beam.BeamSearch` (same scores, length penalty,
finishing rules, KV cache and batch), with per-sentence :class:`OutputControls`:

- a **prefix** is forced: while a beam is inside it, its next prefix token is the only one
  allowed (with the model's own log-probability, and exempt from the repetition guards);
- **terms** (Post and Vilar 2018, as fairseq's ``--constraints``): each step's candidates of a
  sentence are its usual top ``2K`` plus, for every beam, the tokens that start or continue one
  of its unmet terms and its own best token; each candidate goes to the bank of its term
  progress (:mod:`.constraints`) and the beam takes them striped across the banks. ``</s>``
  is allowed only once every term appeared; a term's tokens are never blocked by a guard; when
  the output limit leaves just enough tokens for the missing terms, only their tokens are
  allowed (so every output contains every term). Finished hypotheses that met every term rank
  before any that did not (possible only at the limit), and a text reached in two
  segmentations is listed once.

A sentence without controls is decoded exactly as :class:`BeamSearch` decodes it, whatever else
is in the batch. Beam size must exceed the number of terms (else DBA degenerates to writing the
terms first): :func:`~transformer_mt.decoding.controls.check_controls` says so.

Shape letters: A sentences still decoding, K beams, V target vocabulary, L tokens so far.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from transformer_mt.config.decoding import DecodingOptions
from transformer_mt.decoding.beam import BeamSelection, LiveBeams
from transformer_mt.decoding.constraints import Progress, SentenceConstraints, striped_order
from transformer_mt.decoding.controls import OutputControls
from transformer_mt.decoding.guards import NO_GUARD, RepetitionGuard
from transformer_mt.decoding.hypothesis import Hypothesis, length_normalised
from transformer_mt.decoding.prefix import keep_only, prefix_tokens, token_mask
from transformer_mt.decoding.search import StepModel, never_generated, next_token_log_probs
from transformer_mt.decoding.topk import top_k

Candidate = tuple[float, int, int, Progress | None]  # total log-prob, beam, token, progress


@dataclass
class _StepMasks:
    """What one step forces: per row of the ``(A*K, V)`` log-probabilities."""

    exempt: tuple[list[int], list[int]] = field(default_factory=lambda: ([], []))
    allowed: tuple[list[int], list[int]] = field(default_factory=lambda: ([], []))
    no_end: list[int] = field(default_factory=list)  # rows that may not write </s> yet


@dataclass
class _Sentences:
    """The batch's per-sentence controls and the search's running state."""

    prefixes: tuple[tuple[int, ...], ...]
    matchers: list[SentenceConstraints | None]
    limits: list[int]
    finished: list[list[tuple[bool, Hypothesis]]]  # (met every term, hypothesis)


@dataclass(frozen=True)
class ConstrainedBeamSearch:
    beam_size: int = 4
    length_penalty: float = 1.0  # 0: total log-prob; 1: average log-prob per token
    n_best: int = 1  # hypotheses returned per sentence (at most beam_size)
    guard: RepetitionGuard = NO_GUARD

    def __post_init__(self) -> None:
        DecodingOptions(
            beam_size=self.beam_size, length_penalty=self.length_penalty, n_best=self.n_best
        )

    @torch.inference_mode()
    def search(
        self,
        model: StepModel,
        src_ids: torch.Tensor,
        max_lengths: torch.Tensor,
        controls: OutputControls | None = None,
    ) -> list[list[Hypothesis]]:
        """As :class:`SearchStrategy`, honouring ``controls`` (one entry per sentence)."""
        config, beams, batch = model.config, self.beam_size, src_ids.shape[0]
        if controls is None:
            controls = OutputControls(((),) * batch, ((),) * batch, ())
        device = src_ids.device
        steps = int(max_lengths.max().item()) if batch else 0
        live = LiveBeams.start(model, src_ids, beams, steps)
        matchers = [controls.constraints(index) for index in range(batch)]
        finished: list[list[tuple[bool, Hypothesis]]] = [[] for _ in range(batch)]
        sentences = _Sentences(controls.prefixes, matchers, max_lengths.tolist(), finished)
        progress = [m.start if m else None for m in matchers for _ in range(beams)]
        blocked = never_generated(config)
        for step in range(1, steps + 1):
            alive = live.alive
            masks = self._masks(step, alive, progress, sentences)
            shape = (len(progress), config.tgt_vocab_size)
            exempt = token_mask(shape, masks.exempt, device) if masks.exempt[0] else None
            log_probs, live.cache = next_token_log_probs(
                model, live.tokens, live.cache, blocked, self.guard, live.history, exempt
            )  # (A*K, V)
            log_probs[masks.no_end, config.eos_id] = float("-inf")
            if masks.allowed[0]:
                allowed = token_mask(shape, masks.allowed, device)  # (A*K, V)
                keep_only(log_probs, allowed, masks.allowed[0])
            candidates = log_probs.add_(live.scores.view(-1, 1))  # (A*K, V) totals, in place
            vocab = candidates.shape[-1]
            top_scores, top_index = top_k(candidates.view(len(alive), beams * vocab), 2 * beams)
            extras = self._extra_scores(candidates, alive, progress, matchers)
            selected, progress = self._advance(
                step,
                alive,
                (top_scores, top_index, vocab),
                extras,
                progress,
                live.history,
                sentences,
                config.eos_id,
            )
            if not selected.sentences:
                break
            live.advance(selected, beams)
        return [
            self._ranked(found, controls.token_bytes if matcher else None)
            for found, matcher in zip(sentences.finished, matchers, strict=True)
        ]

    def _ranked(
        self, found: list[tuple[bool, Hypothesis]], token_bytes: Sequence[bytes] | None
    ) -> list[Hypothesis]:
        """The ``n_best`` best, those that met every term first. With terms (``token_bytes``
        given), one text is listed once: the term's own tokens and the model's may spell the
        same output in two segmentations."""
        ranked = [hyp for _, hyp in sorted(found, key=lambda f: (not f[0], -f[1].score))]
        if token_bytes is not None:
            texts = [b"".join(token_bytes[t] for t in hyp.tokens) for hyp in ranked]
            ranked = [hyp for i, hyp in enumerate(ranked) if texts[i] not in texts[:i]]
        return ranked[: self.n_best]

    def _masks(
        self, step: int, alive: list[int], progress: list[Progress | None], sentences: _Sentences
    ) -> _StepMasks:
        """The forced tokens, guard exemptions and ``</s>`` bans of every row at ``step``."""
        row_sentence = [sentence for sentence in alive for _ in range(self.beam_size)]
        forced_rows, forced_tokens = prefix_tokens(sentences.prefixes, row_sentence, step - 1)
        masks = _StepMasks()
        masks.exempt = (list(forced_rows), list(forced_tokens))
        masks.allowed = (list(forced_rows), list(forced_tokens))
        forced = set(forced_rows)
        for row, sentence in enumerate(row_sentence):
            matcher, done = sentences.matchers[sentence], progress[row]
            if matcher is None or done is None or matcher.complete(done):
                continue
            masks.no_end.append(row)
            if row in forced:
                continue
            for token in matcher.next_tokens(done):
                masks.exempt[0].append(row)
                masks.exempt[1].append(token)
            if matcher.needed(done) >= sentences.limits[sentence] - step + 1:
                for token in matcher.urgent_tokens(done):
                    masks.allowed[0].append(row)
                    masks.allowed[1].append(token)
        return masks

    def _extra_scores(
        self,
        candidates: torch.Tensor,
        alive: list[int],
        progress: list[Progress | None],
        matchers: list[SentenceConstraints | None],
    ) -> dict[int, list[tuple[float, int, int]]]:
        """Per constrained sentence (its position in the batch), the totals ``candidates
        (A*K, V)`` of its beams' term tokens and best tokens: ``(score, beam, token)``."""
        rows: list[int] = []
        for position, sentence in enumerate(alive):
            if matchers[sentence] is not None:
                rows += range(position * self.beam_size, (position + 1) * self.beam_size)
        if not rows:
            return {}
        index = torch.tensor(rows, device=candidates.device)  # (R,)
        best = candidates.index_select(0, index).argmax(dim=1).tolist()  # (R,)
        pairs: list[tuple[int, int]] = []
        for row, token in zip(rows, best, strict=True):
            matcher, done = matchers[alive[row // self.beam_size]], progress[row]
            assert matcher is not None and done is not None
            pairs += [(row, t) for t in {token, *matcher.next_tokens(done)}]
        row_ids = torch.tensor([row for row, _ in pairs], device=candidates.device)
        token_ids = torch.tensor([token for _, token in pairs], device=candidates.device)
        found: dict[int, list[tuple[float, int, int]]] = {}
        for (row, token), score in zip(pairs, candidates[row_ids, token_ids].tolist(), strict=True):
            position, beam = divmod(row, self.beam_size)
            found.setdefault(position, []).append((score, beam, token))
        return found

    def _candidates(
        self,
        position: int,
        top: list[tuple[float, int, int]],
        extras: dict[int, list[tuple[float, int, int]]],
        progress: list[Progress | None],
        matcher: SentenceConstraints | None,
    ) -> list[Candidate]:
        """One sentence's candidates in the order the beam takes them."""
        base = position * self.beam_size
        if matcher is None:  # plain beam search: the top 2K by score
            return [(score, beam, token, None) for score, beam, token in top]
        pool = {(beam, token): score for score, beam, token in top}
        for score, beam, token in extras.get(position, ()):
            pool.setdefault((beam, token), score)
        found: list[Candidate] = []
        for (beam, token), score in pool.items():
            done = progress[base + beam]
            if score > float("-inf") and done is not None:
                found.append((score, beam, token, matcher.advance(done, token)))
        banks = [matcher.bank(done) for _, _, _, done in found if done is not None]
        return [found[i] for i in striped_order([c[0] for c in found], banks)]

    def _advance(
        self,
        step: int,
        alive: list[int],
        top: tuple[torch.Tensor, torch.Tensor, int],
        extras: dict[int, list[tuple[float, int, int]]],
        progress: list[Progress | None],
        history: torch.Tensor,
        sentences: _Sentences,
        eos_id: int,
    ) -> tuple[BeamSelection, list[Progress | None]]:
        """Finish hypotheses and pick the next beams (and their progress) of every sentence."""
        beams = self.beam_size
        top_scores, top_index, vocab = top
        score_rows, index_rows = top_scores.tolist(), top_index.tolist()
        selection, next_progress = BeamSelection(), []
        for position, sentence in enumerate(alive):
            matcher = sentences.matchers[sentence]
            top_list = [
                (score, index // vocab, index % vocab)
                for score, index in zip(score_rows[position], index_rows[position], strict=True)
            ]
            ordered = self._candidates(position, top_list, extras, progress, matcher)
            at_limit = step >= sentences.limits[sentence]
            finished = sentences.finished[sentence]
            kept: list[tuple[int, int, float, Progress | None]] = []
            for rank, (score, beam, token, done) in enumerate(ordered):
                row = position * beams + beam
                if token == eos_id or at_limit:
                    if rank < beams and len(finished) < beams:
                        met = matcher is None or (done is not None and matcher.complete(done))
                        tokens = (*history[row].tolist(), token)
                        finished.append((met, self._hypothesis(tokens, score, token == eos_id)))
                elif len(kept) < beams:
                    kept.append((row, token, score, done))
            if len(finished) >= beams or at_limit or not kept:
                continue
            kept += [(*kept[0][:2], float("-inf"), kept[0][3])] * (beams - len(kept))
            selection.sentences.append(sentence)
            for row, token, score, done in kept:
                selection.rows.append(row)
                selection.tokens.append(token)
                selection.scores.append(score)
                next_progress.append(done)
        return selection, next_progress

    def _hypothesis(self, tokens: tuple[int, ...], log_prob: float, ended: bool) -> Hypothesis:
        score = length_normalised(log_prob, len(tokens), self.length_penalty)
        return Hypothesis(tokens=tokens, log_prob=log_prob, score=score, finished=ended)
