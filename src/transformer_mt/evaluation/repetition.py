"""How often outputs stutter: a measure of the repetitions a model should not make.

An output *stutters* when it holds an immediate repetition that fluent text almost never has:

- text that is mostly CJK (Chinese, Japanese, Korean; written without spaces): a character
  three times in a row ("水水水") or an immediately repeated chunk of 2 to 6 characters
  ("世界世界", "我喜欢我喜欢");
- other text, compared word by word (case and punctuation ignored): a word three times in a row
  or an immediately repeated chunk of 1 to 4 words ("the the", "a man in a man in").

On the built-in test split 0.3% of the Chinese references stutter by this measure, so a rate
far above the references' is the model's doing. ``evaluate`` reports both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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
