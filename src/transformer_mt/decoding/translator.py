"""The public facade: load a trained run, translate sentences, score translations.

Shape letters: B sentences in a batch, S source length, T target length, V target vocabulary.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.artifacts.weights import load_model
from transformer_mt.config.decoding import DecodingOptions
from transformer_mt.data.batching import Batch, pad_sequences, token_budget_batches
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.data.vocabulary import for_target_language
from transformer_mt.decoding.alignment import Aligner, Alignment
from transformer_mt.decoding.beam import BeamSearch
from transformer_mt.decoding.constrained import ConstrainedBeamSearch
from transformer_mt.decoding.controls import (
    OutputControls,
    TargetVocabulary,
    check_controls,
    encode_controls,
)
from transformer_mt.decoding.documents import join_paragraphs, split_paragraphs
from transformer_mt.decoding.doubles import DoubleTable, double_table
from transformer_mt.decoding.guards import RepetitionGuard
from transformer_mt.decoding.hypothesis import Hypothesis
from transformer_mt.decoding.search import GreedySearch, SamplingSearch, SearchStrategy
from transformer_mt.errors import UserError
from transformer_mt.inference.convert import convert_for_inference
from transformer_mt.inference.model import InferenceTransformer
from transformer_mt.inference.shortlist import FILE_NAME as SHORTLIST_FILE
from transformer_mt.inference.shortlist import Shortlist
from transformer_mt.model.factory import Model
from transformer_mt.runtime import resolve_device


@dataclass(frozen=True)
class Candidate:
    """One translation of a sentence with its model scores."""

    text: str
    score: float  # ranking score (length-penalised log-probability for beam search)
    log_prob: float  # total log-probability of the output tokens (including </s>)
    tokens: tuple[int, ...]  # target token ids (including </s> when the search finished)
    # (source word, target word) pairs, 0-based (decoding.alignment); None unless asked for
    alignment: Alignment | None = None


@dataclass(frozen=True)
class Translation:
    """All requested candidates for one source sentence, best first."""

    source: str
    candidates: tuple[Candidate, ...]
    truncated: bool  # the source was longer than the model's limit and was cut

    @property
    def text(self) -> str:
        return self.candidates[0].text if self.candidates else ""


class Translator:
    """Translate with a trained model.

    >>> translator = Translator.load("runs/quickstart")          # doctest: +SKIP
    >>> translator.translate(["Hello world"])                     # doctest: +SKIP
    ['你好世界']
    >>> translator.translate(["Hello world"], beam_size=1)        # doctest: +SKIP
    ['你好世界']
    >>> options = DecodingOptions(beam_size=5, n_best=3)           # doctest: +SKIP
    >>> translator.translate_detailed(["Hello world"], options)    # doctest: +SKIP
    """

    def __init__(
        self,
        model: Model,
        tokenizer: Tokenizer,
        device: torch.device,
        *,
        dtype: str = "fp32",
        fast: bool = False,
    ) -> None:
        """``dtype``: ``fp32``, ``bf16`` (weights converted) or ``int8`` (dynamically quantized
        linear layers, CPU). ``fast``: swap in the fast inference path of
        :mod:`transformer_mt.inference` (prepacked layers, fused Q/K/V, ...), changing the
        model in place, for inference only: never for a model that is still being trained.
        Without it (in fp32 or bf16) the translator decodes with the reference model."""
        self.model = convert_for_inference(model, dtype, device, fast=fast)
        self.tokenizer = tokenizer
        self.device = device
        self.dtype = dtype

    @classmethod
    def load(
        cls,
        run_dir: str | Path,
        *,
        device: str = "cpu",
        weights: str | Path | None = None,
        dtype: str = "fp32",
        target_language: str | None = None,
        shortlist: bool = False,
    ) -> Translator:
        """Load the model, tokenizer and best weights of a run directory; ``target_language``
        (``cmn_Hans`` or ``>>cmn_Hans<<``) chooses a multi-target model's output language;
        ``shortlist`` restricts each batch's outputs to the run's vocabulary shortlist
        (``RUN_DIR/shortlist.safetensors``, see :mod:`transformer_mt.inference.shortlist`)."""
        run = RunDir(Path(run_dir))
        model = load_model(
            run.read_model_config(), Path(weights) if weights else run.require_weights()
        )
        tokenizer = Tokenizer.load(run.tokenizer_dir)
        if target_language is not None:  # a multi-target model's output language
            tokenizer = for_target_language(tokenizer, target_language)
        # The model is this translator's own: it can take the fast inference path.
        translator = cls(model, tokenizer, resolve_device(device), dtype=dtype, fast=True)
        if shortlist:
            if not isinstance(translator.model, InferenceTransformer):
                raise UserError("a vocabulary shortlist needs a Transformer run")
            translator.model.shortlist = Shortlist.load(run.path / SHORTLIST_FILE)
        return translator

    @property
    def max_source_tokens(self) -> int:
        """Longest source (in tokens, ``</s>`` included) the model's positions cover."""
        return self.model.config.max_positions

    # -- translation -------------------------------------------------------------------------
    def translate(
        self,
        sentences: Sequence[str],
        options: DecodingOptions | None = None,
        *,
        progress: bool = False,
        prefixes: Sequence[str | None] | None = None,
        constraints: Sequence[Sequence[str]] | None = None,
        **overrides: Any,
    ) -> list[str]:
        """Translate each sentence; returns the best translation of each, in input order.

        ``options`` (default :class:`DecodingOptions()`: beam search with 4 beams) says how;
        keyword ``overrides`` change single fields (``beam_size=1`` is greedy search,
        ``sample=True`` samples). Sentences are decoded sorted by length, ``batch_size`` at a
        time and, with ``max_tokens``, at most that many padded source tokens per batch.

        ``prefixes``: per sentence, text the output must start with (None: none);
        ``constraints``: per sentence, a list of target phrases the output must contain
        (beam search with dynamic beam allocation; the beam must exceed the phrases). A
        prefix or constraint the search cannot honour is a ``ValueError``
        (:mod:`.controls`). See docs/output-control.md.
        """
        results = self.translate_detailed(
            sentences,
            options,
            progress=progress,
            prefixes=prefixes,
            constraints=constraints,
            **overrides,
        )
        return [result.text for result in results]

    def translate_detailed(
        self,
        sentences: Sequence[str],
        options: DecodingOptions | None = None,
        *,
        progress: bool = False,
        prefixes: Sequence[str | None] | None = None,
        constraints: Sequence[Sequence[str]] | None = None,
        alignments: bool = False,
        **overrides: Any,
    ) -> list[Translation]:
        """Like :meth:`translate`, returning ``n_best`` scored candidates per sentence; with
        ``alignments``, each candidate's word ``alignment`` (:mod:`.alignment`)."""
        options = (options or DecodingOptions()).replace(**overrides)
        controls = self.output_controls(sentences, options, prefixes, constraints)
        aligner = self.aligner if alignments else None
        strategy = make_strategy(
            options, self.piece_characters, self.double_table, controlled=controls is not None
        )
        results = self.search(sentences, strategy, options, progress=progress, controls=controls)
        return results if aligner is None else self._aligned(results, aligner, options.keep_case)

    def translate_documents(
        self,
        paragraphs: Sequence[str],
        options: DecodingOptions | None = None,
        *,
        progress: bool = False,
        **overrides: Any,
    ) -> list[str]:
        """Translate each paragraph sentence by sentence (:mod:`.documents`): every sentence
        of every paragraph in one batch, a sentence over the model's length split at clauses
        instead of cut, and each paragraph's translations joined back into one string."""
        options = (options or DecodingOptions()).replace(**overrides)
        fits = functools.partial(self.fits, keep_case=options.keep_case)
        segments = split_paragraphs(list(paragraphs), fits)
        translations = self.translate(segments.pieces, options, progress=progress)
        return join_paragraphs(translations, segments.counts)

    def fits(self, text: str, keep_case: bool = False) -> bool:
        """Whether ``text`` fits the model's source length (``</s>`` included), uncut, as
        :meth:`encode_sources` encodes it."""
        _, (truncated,) = self.encode_sources([text], keep_case)
        return not truncated

    def output_controls(
        self,
        sentences: Sequence[str],
        options: DecodingOptions,
        prefixes: Sequence[str | None] | None,
        constraints: Sequence[Sequence[str]] | None,
    ) -> OutputControls | None:
        """The sentences' prefixes and constraints as tokens, checked against the options and
        each sentence's output limit (a ``ValueError`` if the search cannot honour them)."""
        if prefixes is None and constraints is None:
            return None
        if getattr(self.model, "shortlist", None) is not None:
            raise UserError("a vocabulary shortlist does not take prefixes or constraints")
        controls = encode_controls(self.target_vocabulary, len(sentences), prefixes, constraints)
        encoded, _ = self.encode_sources(sentences, options.keep_case)
        config = self.model.config
        padded = pad_sequences([ids or [config.eos_id] for ids in encoded], config.pad_id)
        limits = self.output_limits(
            padded, options.max_length_ratio, options.max_length_offset
        ).tolist()
        check_controls(controls, limits, beam_size=options.beam_size, sample=options.sample)
        return controls

    @functools.cached_property
    def target_vocabulary(self) -> TargetVocabulary:
        """The target pieces as the output controls need them."""
        return TargetVocabulary(self.tokenizer)

    @functools.cached_property
    def aligner(self) -> Aligner:
        """Word alignments from the model's cross-attention (a Transformer's only)."""
        return Aligner.build(self.model, self.tokenizer, self.target_vocabulary.token_bytes)

    def _aligned(
        self, results: list[Translation], aligner: Aligner, keep_case: bool
    ) -> list[Translation]:
        """``results`` with each candidate's word alignment."""
        encoded, _ = self.encode_sources([result.source for result in results], keep_case)
        pairs = [(e, c.tokens) for e, r in zip(encoded, results, strict=True) for c in r.candidates]
        alignments = iter(aligner.align([s for s, _ in pairs], [t for _, t in pairs]))
        return [
            dataclasses.replace(
                result,
                candidates=tuple(
                    dataclasses.replace(c, alignment=next(alignments)) for c in result.candidates
                ),
            )
            for result in results
        ]

    @functools.cached_property
    def piece_characters(self) -> torch.Tensor:
        """Characters each target token spells ``(V,)`` (for the repetition guard)."""
        return torch.tensor(self.tokenizer.target_piece_characters())

    @functools.cached_property
    def double_table(self) -> DoubleTable | None:
        """The tokens that would double a character unseen (for the repetition guard)."""
        return double_table(self.tokenizer)

    def search(
        self,
        sentences: Sequence[str],
        strategy: SearchStrategy,
        options: DecodingOptions | None = None,
        *,
        progress: bool = False,
        controls: OutputControls | None = None,
    ) -> list[Translation]:
        """Translate with an explicit search strategy object (e.g. ``BeamSearch(beam_size=1)``);
        ``options`` give the length limits and batching (its search fields are not used);
        ``controls`` (per sentence) go to the strategy's ``search``."""
        options = options or DecodingOptions()
        encoded, truncated = self.encode_sources(sentences, options.keep_case)
        hypotheses: list[list[Hypothesis]] = [[] for _ in sentences]
        batches = length_sorted_batches(encoded, options.batch_size, options.max_tokens)
        for chunk in tqdm(batches, unit="batch", disable=not progress, desc="translating"):
            src_ids = pad_sequences([encoded[i] for i in chunk], self.model.config.pad_id)
            limits = self.output_limits(
                src_ids, options.max_length_ratio, options.max_length_offset
            )
            src_ids = src_ids.to(self.device)
            if controls is None:
                found = strategy.search(self.model, src_ids, limits)
            else:  # strategies that take controls: greedy, sampling, constrained beam
                found = strategy.search(  # type: ignore[call-arg]  # see make_strategy
                    self.model, src_ids, limits, controls.select(chunk)
                )
            for index, result in zip(chunk, found, strict=True):
                hypotheses[index] = result
        return [
            Translation(
                source=sentence,
                candidates=tuple(self._candidate(h) for h in hyps),
                truncated=cut,
            )
            for sentence, hyps, cut in zip(sentences, hypotheses, truncated, strict=True)
        ]

    # -- scoring -----------------------------------------------------------------------------
    @torch.inference_mode()
    def score(self, sources: Sequence[str], targets: Sequence[str]) -> list[float]:
        """Teacher-forced total log-probability of each target (with ``</s>``) given its source."""
        if len(sources) != len(targets):
            raise ValueError(f"{len(sources)} sources but {len(targets)} targets")
        encoded, _ = self.encode_sources(sources)
        target_ids = self.tokenizer.encode_target(list(targets))
        return self.score_tokens(encoded, target_ids)

    @torch.inference_mode()
    def score_tokens(
        self, sources: Sequence[Sequence[int]], targets: Sequence[Sequence[int]]
    ) -> list[float]:
        """Like :meth:`score` on token ids (sources with ``</s>``, targets without specials)."""
        config = self.model.config
        batch = Batch.from_token_ids(
            [list(s)[:-1] if s and s[-1] == config.eos_id else s for s in sources],
            targets,
            pad_id=config.pad_id,
            bos_id=config.bos_id,
            eos_id=config.eos_id,
        ).to(self.device)
        logits = self.model(batch.src_ids, batch.tgt_in_ids).float()  # (B, T, V)
        log_probs = logits.log_softmax(dim=-1)
        picked = log_probs.gather(2, batch.tgt_out_ids[:, :, None])[:, :, 0]  # (B, T)
        real = batch.tgt_out_ids != config.pad_id  # (B, T)
        return (picked * real).sum(dim=1).tolist()

    # -- helpers -----------------------------------------------------------------------------
    def encode_sources(
        self, sentences: Sequence[str], keep_case: bool = False
    ) -> tuple[list[list[int]], list[bool]]:
        """Token ids with ``</s>`` (empty for blank input) and whether each was truncated; the
        text cased as the training sources case it unless ``keep_case``."""
        eos = self.model.config.eos_id
        limit = self.max_source_tokens - 1
        encoded, truncated = [], []
        casing = None if keep_case else self.tokenizer.source_casing
        texts = [(casing.apply(s) if casing else s) if s.strip() else "" for s in sentences]
        ids_list = self.tokenizer.encode_source(texts)
        for sentence, ids in zip(sentences, ids_list, strict=True):
            if not sentence.strip():
                encoded.append([])
                truncated.append(False)
                continue
            truncated.append(len(ids) > limit)
            encoded.append([*ids[:limit], eos])
        return encoded, truncated

    def output_limits(
        self, src_ids: torch.Tensor, ratio: float = 2.0, offset: int = 10
    ) -> torch.Tensor:
        """Longest output per source: ``ratio * source_tokens + offset``. ``(B, S)`` -> ``(B,)``."""
        lengths = (src_ids != self.model.config.pad_id).sum(dim=1).float()  # (B,)
        limits = (lengths * ratio + offset).long().clamp(1, self.model.config.max_positions)
        return limits

    def _candidate(self, hypothesis: Hypothesis) -> Candidate:
        text = self.tokenizer.decode_target([list(hypothesis.tokens)])[0]
        return Candidate(
            text=text,
            score=hypothesis.score,
            log_prob=hypothesis.log_prob,
            tokens=hypothesis.tokens,
        )


def length_sorted_batches(
    encoded: Sequence[Sequence[int]], batch_size: int, max_tokens: int | None
) -> list[list[int]]:
    """Indices of the non-empty ``encoded`` sources, sorted by length (little padding), in
    batches of at most ``batch_size`` sentences and ``max_tokens`` padded source tokens."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    kept = [i for i, ids in enumerate(encoded) if ids]
    if max_tokens is None:
        order = sorted(kept, key=lambda i: len(encoded[i]))
        return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    budgeted = token_budget_batches([(len(encoded[i]),) * 2 for i in kept], max_tokens)
    return [
        [kept[j] for j in batch[start : start + batch_size]]
        for batch in budgeted
        for start in range(0, len(batch), batch_size)
    ]


def make_strategy(
    options: DecodingOptions,
    piece_characters: torch.Tensor | None = None,
    doubles: DoubleTable | None = None,
    *,
    controlled: bool = False,
) -> SearchStrategy:
    """The search a set of decoding options asks for (``piece_characters``: characters each
    target token spells, for ``no_repeat_chunk_size``; ``doubles``: the tokenizer's
    :class:`DoubleTable`, for unseen doubles); ``controlled``: one that takes output controls
    (prefixes, constraints) in its ``search``."""
    guard = RepetitionGuard.from_options(options, piece_characters, doubles)
    if options.strategy == "sample":
        return SamplingSearch(
            temperature=options.temperature,
            top_k=options.top_k,
            top_p=options.top_p,
            seed=options.seed,
            guard=guard,
        )
    if options.strategy == "greedy":
        return GreedySearch(guard)
    beam = ConstrainedBeamSearch if controlled else BeamSearch
    return beam(
        beam_size=options.beam_size,
        length_penalty=options.length_penalty,
        n_best=options.n_best,
        guard=guard,
    )
