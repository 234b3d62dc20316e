"""BLEU and chrF through sacreBLEU: the numbers and signatures sacreBLEU itself gives."""

from __future__ import annotations

import pytest
import sacrebleu

from transformer_mt.evaluation.metrics import Scores, bleu_tokenizer_for, corpus_scores

CHINESE_REFS = ["我喜欢喝茶。", "今天天气很好，我们去散步吧。", "火车站在哪里？", "他有一只猫"]
CHINESE_HYPS = ["我喜欢茶。", "今天天气好，我们散步吧。", "火车站在哪？", "她有两只狗"]
ENGLISH_REFS = ["I like to drink tea.", "The weather is nice today.", "Where is the station?"]
ENGLISH_HYPS = ["I like drinking tea.", "Today the weather is nice.", "Where's the station?"]


@pytest.mark.parametrize(
    ("hypotheses", "references", "tokenize"),
    [(CHINESE_HYPS, CHINESE_REFS, "zh"), (ENGLISH_HYPS, ENGLISH_REFS, "13a")],
)
def test_scores_equal_sacrebleu_called_directly(
    hypotheses: list[str], references: list[str], tokenize: str
) -> None:
    scores = corpus_scores(hypotheses, references)
    bleu = sacrebleu.corpus_bleu(hypotheses, [references], tokenize=tokenize)
    chrf = sacrebleu.corpus_chrf(hypotheses, [references])
    assert scores.tokenizer == tokenize
    assert scores.bleu == bleu.score
    assert scores.chrf == chrf.score
    assert scores.sentences == len(hypotheses)
    assert 0 < scores.bleu < 100 and 0 < scores.chrf < 100


def test_chinese_without_the_zh_tokenizer_would_score_whole_sentences() -> None:
    """Why the tokenizer matters: with 13a an unsegmented Chinese sentence is one 'word'."""
    zh = corpus_scores(CHINESE_HYPS, CHINESE_REFS)
    as_13a = corpus_scores(CHINESE_HYPS, CHINESE_REFS, tokenizer="13a")
    assert as_13a.tokenizer == "13a"
    assert as_13a.bleu == sacrebleu.corpus_bleu(CHINESE_HYPS, [CHINESE_REFS], tokenize="13a").score
    assert zh.bleu > as_13a.bleu


def test_perfect_and_empty_hypotheses() -> None:
    assert corpus_scores(CHINESE_REFS, CHINESE_REFS).bleu == pytest.approx(100.0)
    assert corpus_scores(ENGLISH_REFS, ENGLISH_REFS).chrf == 100.0
    empty = corpus_scores([""] * len(ENGLISH_REFS), ENGLISH_REFS)
    assert (empty.bleu, empty.chrf) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("references", "expected"),
    [
        (CHINESE_REFS, "zh"),
        (ENGLISH_REFS, "13a"),
        (["我", "喜欢"], "zh"),
        (["Tokyo 東京 Tokyo"], "13a"),  # 2 of 12 non-space characters are CJK
        (["ab 東京"], "zh"),  # 2 of 4: over a third
        (["abcd 東"], "13a"),  # 1 of 5: under a third
        (["日本語のテキスト"], "zh"),  # kana counts
        (["한국어 문장"], "zh"),  # hangul counts
        ([""], "13a"),
        ([], "13a"),
        (["   "], "13a"),
    ],
)
def test_bleu_tokenizer_for(references: list[str], expected: str) -> None:
    assert bleu_tokenizer_for(references) == expected


def test_signatures_name_the_settings() -> None:
    zh = corpus_scores(CHINESE_HYPS, CHINESE_REFS)
    version = sacrebleu.__version__
    assert zh.bleu_signature == (
        f"BLEU signature: nrefs:1|case:mixed|eff:no|tok:zh|smooth:exp|version:{version}"
    )
    assert zh.chrf_signature == (
        f"chrF signature: nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:{version}"
    )
    en = corpus_scores(ENGLISH_HYPS, ENGLISH_REFS)
    assert "|tok:13a|" in en.bleu_signature


def test_summary_shows_scores_and_both_signatures() -> None:
    scores = Scores(
        bleu=12.345,
        chrf=40.0,
        bleu_signature="BLEU signature: x",
        chrf_signature="chrF signature: y",
        tokenizer="zh",
        sentences=3,
    )
    assert scores.summary() == (
        "BLEU = 12.35  chrF = 40.00  (3 sentences)\n  BLEU signature: x\n  chrF signature: y"
    )


def test_misaligned_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="2 hypotheses but 3 references"):
        corpus_scores(ENGLISH_HYPS[:2], ENGLISH_REFS)
