"""Corpus BLEU and chrF through sacreBLEU, with its reproducibility signatures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sacrebleu.metrics import BLEU, CHRF

from transformer_mt.data.scripts import mostly_cjk


def bleu_tokenizer_for(references: Sequence[str]) -> str:
    """sacreBLEU's ``zh`` tokenizer for Chinese references, ``13a`` otherwise.

    Chinese is written without spaces, so ``13a`` would count a whole sentence as one word; ``zh``
    splits it into characters. A reference set counts as Chinese when over a third of its
    non-space characters are CJK.
    """
    return "zh" if mostly_cjk(references) else "13a"


@dataclass(frozen=True)
class Scores:
    bleu: float
    chrf: float
    bleu_signature: str
    chrf_signature: str
    tokenizer: str
    sentences: int

    def summary(self) -> str:
        return (
            f"BLEU = {self.bleu:.2f}  chrF = {self.chrf:.2f}  ({self.sentences} sentences)\n"
            f"  {self.bleu_signature}\n  {self.chrf_signature}"
        )


def corpus_scores(
    hypotheses: Sequence[str], references: Sequence[str], tokenizer: str | None = None
) -> Scores:
    """BLEU and chrF of ``hypotheses`` against one reference each."""
    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses but {len(references)} references: they must align"
        )
    tokenize = tokenizer or bleu_tokenizer_for(references)
    bleu = BLEU(tokenize=tokenize)
    chrf = CHRF()
    bleu_score = bleu.corpus_score(list(hypotheses), [list(references)])
    chrf_score = chrf.corpus_score(list(hypotheses), [list(references)])
    return Scores(
        bleu=bleu_score.score,
        chrf=chrf_score.score,
        bleu_signature=f"BLEU signature: {bleu.get_signature()}",
        chrf_signature=f"chrF signature: {chrf.get_signature()}",
        tokenizer=tokenize,
        sentences=len(hypotheses),
    )
