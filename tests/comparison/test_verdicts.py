"""The report's long-range verdicts, on hand-made scores."""

from __future__ import annotations

from comparison.long_range import LengthScore
from comparison.report import long_range_verdicts
from comparison.study import StudyResults, StudySettings


def _results(task: str, transformer: list[float], lstm: list[float]) -> StudyResults:
    results = StudyResults(settings=StudySettings(), hardware={})
    for model, accuracies in (("transformer", transformer), ("lstm", lstm)):
        for length, accuracy in zip((8, 32, 128), accuracies, strict=True):
            score = LengthScore(task, model, length, 0.0, accuracy, accuracy)
            results.long_range.append(score)
    return results


def test_a_task_neither_learned_names_the_model_ahead_at_most_lengths() -> None:
    verdict = long_range_verdicts(_results("reverse", [0.45, 0.30, 0.08], [0.88, 0.49, 0.33]))[0]
    assert "neither model learned it" in verdict
    assert "the LSTM is ahead at 3 of 3 lengths, against the claim" in verdict


def test_a_task_neither_learned_with_no_clear_leader_is_inconclusive() -> None:
    verdict = long_range_verdicts(_results("reverse", [0.45, 0.30, 0.08], [0.30, 0.32, 0.33]))[0]
    assert verdict.endswith("neither model learned it within the budget (inconclusive).")


def test_the_longest_length_decides_once_a_model_learned_the_task() -> None:
    verdict = long_range_verdicts(_results("copy", [1.0, 1.0, 1.0], [0.96, 0.49, 0.22]))[0]
    assert "Transformer 128, LSTM 8" in verdict
    assert verdict.endswith("Verdict: the Transformer is ahead at the longest length.")
