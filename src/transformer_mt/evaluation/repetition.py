"""How often outputs stutter: a measure of the repetitions a model should not make.

An output *stutters* when it holds an immediate repetition that fluent text almost never has:

- text that is mostly CJK (Chinese, Japanese, Korean; written without spaces): a character
  three times in a row ("水水水") or an immediately repeated chunk of 2 to 6 characters
  ("世界世界", "我喜欢我喜欢");
- other text, compared word by word (case and punctuation ignored): a word three times in a row
  or an immediately repeated chunk of 1 to 4 words ("the the", "a man in a man in").

On the built-in test split 0.3% of the Chinese references stutter by this measure, so a rate
far above the references' is the model's doing. ``evaluate`` reports both.

A second measure catches the stutter that stops at two: an output holds an *unseen double* when
it doubles a CJK character that the training targets never double ("喝水水", "帐帐单"; real words
such as 妈妈 and 慢慢 are doubled in the training data). 0.2% of the built-in test references
hold one, against 15% of the outputs of a quick-start model decoded with a cap of two tokens in a
row (:mod:`transformer_mt.data.reduplication`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence, Set

from transformer_mt.data.reduplication import doubles_in
from transformer_mt.evaluation.metrics import bleu_tokenizer_for

_CHARACTERS = re.compile(r"(.)\1\1|(.{2,6})\2")
_WORD = re.compile(r"\w+(?:['’]\w+)*")


def stutters(text: str, *, cjk: bool) -> bool:
    """Whether ``text`` holds an immediate repetition (see the module docstring)."""
    if cjk:
        return _CHARACTERS.search("".join(text.split())) is not None
    words = [word.lower() for word in _WORD.findall(text)]
    return _repeats_words(words)


def _repeats_words(words: list[str]) -> bool:
    for start in range(len(words)):
        if words[start : start + 3] == [words[start]] * 3:
            return True
        for size in range(1, 5):
            chunk = words[start : start + size]
            repeated = len(chunk) == size and words[start + size : start + 2 * size] == chunk
            if repeated and (size > 1 or words[start] not in _DOUBLED_WORDS):
                return True
    return False


# Words that fluent English doubles ("had had", "that that", "very very").
_DOUBLED_WORDS = frozenset({"had", "that", "very", "is", "so", "bye", "no", "yes", "ha", "now"})


def stutter_rate(texts: Sequence[str], *, cjk: bool | None = None) -> float:
    """The fraction of ``texts`` that stutter; ``cjk`` defaults to whether the texts are
    mostly CJK (the rule sacreBLEU's tokenizer choice uses)."""
    if not texts:
        return 0.0
    if cjk is None:
        cjk = bleu_tokenizer_for(texts) == "zh"
    return sum(stutters(text, cjk=cjk) for text in texts) / len(texts)


def unseen_double_rate(texts: Sequence[str], allowed: Set[str]) -> float:
    """The fraction of ``texts`` that double a CJK character outside ``allowed`` (the
    characters the training targets double)."""
    if not texts:
        return 0.0
    return sum(any(c not in allowed for c in doubles_in(text)) for text in texts) / len(texts)


def repetition_measures(
    hypotheses: Sequence[str], references: Sequence[str], *, cjk: bool, doubles: Set[str] | None
) -> dict[str, float]:
    """Stutter rates of the outputs and of the references; with ``doubles`` (the characters the
    training targets double) also both unseen-double rates."""
    measures = {
        "stutter": stutter_rate(hypotheses, cjk=cjk),
        "reference_stutter": stutter_rate(references, cjk=cjk),
    }
    if doubles is not None and cjk:
        measures["unseen_doubles"] = unseen_double_rate(hypotheses, doubles)
        measures["reference_unseen_doubles"] = unseen_double_rate(references, doubles)
    return measures
