"""``transformer-mt check``: the invariants every fast decoding path must keep, on a real model.

``transformer-mt check RUN_DIR`` runs them on real sentences and prints pass/fail with the
largest difference found. Each check compares two ways of computing the same thing:

- greedy search equals beam search with one beam;
- cached (incremental) decoding equals recomputing the whole prefix at every step;
- a padded batch equals translating its sentences one at a time;
- the top of an n-best list equals the single best beam-search result;
- a reported log-probability equals teacher-forced rescoring of the returned tokens.

Shape letters: S source length, T target length, V target vocabulary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from transformer_mt.commands.evaluate import split_pairs
from transformer_mt.data.readers import read_text_lines
from transformer_mt.decoding.beam import BeamSearch
from transformer_mt.decoding.search import GreedySearch
from transformer_mt.decoding.translator import Translation, Translator
from transformer_mt.errors import UserError
from transformer_mt.runtime import configure_cpu

LOGIT_TOLERANCE = 1e-4  # fp32: cached and full computations differ only by summation order
SCORE_TOLERANCE = 1e-3  # total log-probabilities summed over up to ~100 tokens


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    max_difference: float  # largest numeric difference seen (0 when outputs are identical)
    detail: str  # what was compared, or the first mismatch


def _token_lists(results: Sequence[Translation]) -> list[list[tuple[int, ...]]]:
    return [[c.tokens for c in r.candidates] for r in results]


def _max_log_prob_gap(first: Sequence[Translation], second: Sequence[Translation]) -> float:
    gaps = [
        abs(a.log_prob - b.log_prob)
        for x, y in zip(first, second, strict=True)
        for a, b in zip(x.candidates, y.candidates, strict=False)
    ]
    return max(gaps, default=0.0)


def _compare(
    name: str, first: list[Translation], second: list[Translation], what: str
) -> CheckResult:
    firsts, seconds = _token_lists(first), _token_lists(second)
    mismatches = [i for i, (a, b) in enumerate(zip(firsts, seconds, strict=True)) if a != b]
    gap = _max_log_prob_gap(first, second)
    if mismatches:
        detail = f"sentence {mismatches[0] + 1} differs ({len(mismatches)} of {len(firsts)})"
    else:
        detail = f"{what}: {len(firsts)} sentences identical"
    return CheckResult(name, not mismatches and gap <= SCORE_TOLERANCE, gap, detail)


def check_greedy_equals_beam_one(translator: Translator, sentences: list[str]) -> CheckResult:
    greedy = translator.search(sentences, GreedySearch())
    beam = translator.search(sentences, BeamSearch(beam_size=1, length_penalty=0.0))
    return _compare("greedy = beam 1", greedy, beam, "greedy vs beam search with 1 beam")


def check_batch_equals_single(
    translator: Translator, sentences: list[str], beam_size: int
) -> CheckResult:
    batched = translator.translate_detailed(sentences, beam_size=beam_size, batch_size=64)
    single = translator.translate_detailed(sentences, beam_size=beam_size, batch_size=1)
    return _compare("batch = one at a time", batched, single, f"beam {beam_size}, padded batch")


def check_nbest_top_equals_best(
    translator: Translator, sentences: list[str], beam_size: int
) -> CheckResult:
    best = translator.translate_detailed(sentences, beam_size=beam_size)
    listed = translator.translate_detailed(sentences, beam_size=beam_size, n_best=beam_size)
    tops = [
        Translation(r.source, r.candidates[:1], r.truncated) for r in listed
    ]  # keep only the top candidate for the comparison
    return _compare("n-best top = best", best, tops, f"top of {beam_size}-best vs best")


@torch.inference_mode()
def check_scores_equal_rescoring(
    translator: Translator, sentences: list[str], beam_size: int
) -> CheckResult:
    """Every candidate's log_prob against a teacher-forced pass over exactly its tokens."""
    results = translator.translate_detailed(sentences, beam_size=beam_size, n_best=beam_size)
    sources, _ = translator.encode_sources(sentences)
    gaps = []
    for source, result in zip(sources, results, strict=True):
        for candidate in result.candidates:
            rescored = teacher_forced_log_prob(translator, source, candidate.tokens)
            gaps.append(abs(rescored - candidate.log_prob))
    gap = max(gaps, default=0.0)
    detail = f"{len(gaps)} candidates (beam {beam_size}, {beam_size}-best) rescored"
    return CheckResult("scores = rescoring", gap <= SCORE_TOLERANCE, gap, detail)


@torch.inference_mode()
def teacher_forced_log_prob(
    translator: Translator, source: Sequence[int], tokens: Sequence[int]
) -> float:
    """Total log-probability of exactly ``tokens`` (``</s>`` included if present) given source."""
    config = translator.model.config
    device = translator.device
    src = torch.tensor([list(source)], device=device)  # (1, S)
    decoder_input = torch.tensor([[config.bos_id, *tokens[:-1]]], device=device)  # (1, T)
    log_probs = translator.model(src, decoder_input)[0].float().log_softmax(-1)  # (T, V)
    target = torch.tensor(list(tokens), device=device)  # (T,)
    return float(log_probs.gather(1, target[:, None]).sum())


@torch.inference_mode()
def check_cached_equals_full(translator: Translator, sentences: list[str]) -> CheckResult:
    """Step-by-step logits with the KV cache against one full pass over the same prefix."""
    model, config, device = translator.model, translator.model.config, translator.device
    sources, _ = translator.encode_sources(sentences)
    outputs = translator.translate_detailed(sentences, beam_size=1)
    gap = 0.0
    for source, output in zip(sources, outputs, strict=True):
        if not source or not output.candidates:
            continue
        src = torch.tensor([source], device=device)  # (1, S)
        inputs = [config.bos_id, *output.candidates[0].tokens[:-1]]
        cache = model.start_cache(model.encode(src), src)
        steps = []
        for token in inputs:
            logits, cache = model.decode_step(torch.tensor([token], device=device), cache)
            steps.append(logits[0])  # (V,)
        full = model(src, torch.tensor([inputs], device=device))[0]  # (T, V)
        gap = max(gap, float((torch.stack(steps) - full).abs().max()))
    detail = f"{len(sentences)} greedy outputs, logits at every step"
    return CheckResult("cached = uncached", gap <= LOGIT_TOLERANCE, gap, detail)


def run_checks(
    translator: Translator, sentences: list[str], beam_size: int = 4
) -> list[CheckResult]:
    """All self-checks on ``sentences`` (non-empty ones)."""
    sentences = [s for s in sentences if s.strip()]
    return [
        check_greedy_equals_beam_one(translator, sentences),
        check_cached_equals_full(translator, sentences),
        check_batch_equals_single(translator, sentences, beam_size),
        check_nbest_top_equals_best(translator, sentences, beam_size),
        check_scores_equal_rescoring(translator, sentences, beam_size),
    ]


def check_run(
    run_dir: Path, *, src: Path | None = None, sentences: int = 50, beam_size: int = 4,
    device: str = "cpu",
) -> list[CheckResult]:  # fmt: skip
    """``transformer-mt check``: the checks on ``sentences`` sentences of ``src`` (default: the
    run's validation split) with the run's model."""
    if sentences < 1 or beam_size < 1:
        raise UserError("--sentences and --beam-size must be at least 1")
    configure_cpu(None)
    translator = Translator.load(run_dir, device=device)
    pool = read_text_lines(src) if src else split_pairs(run_dir, "valid")[0]
    chosen = [s for s in pool if s.strip()][:sentences]
    if not chosen:
        raise UserError(f"{src or run_dir}: no sentences to check")
    return run_checks(translator, chosen, beam_size=beam_size)
