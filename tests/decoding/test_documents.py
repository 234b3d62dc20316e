"""Documents: sentence and clause splitting on hand-written paragraphs, joining back, and
``Translator.translate_documents`` against translating the same sentences one by one."""

from __future__ import annotations

import pytest

from cli.toy_data import ToyRun, trained_toy_run
from transformer_mt.decoding.documents import (
    join_paragraphs,
    split_paragraphs,
    split_sentences,
    split_to_fit,
)
from transformer_mt.decoding.translator import Translator


@pytest.mark.parametrize(
    ("paragraph", "sentences"),
    [
        (
            'Mr. Smith went to Washington. He said "Hello!" and left. It was 3.5 p.m. Yes.',
            [
                "Mr. Smith went to Washington.",
                'He said "Hello!" and left.',
                "It was 3.5 p.m.",
                "Yes.",
            ],
        ),
        ("No final stop here", ["No final stop here"]),
        (
            "我喜欢喝茶。你呢？他说：“你好！”然后走了",
            ["我喜欢喝茶。", "你呢？", "他说：“你好！”", "然后走了"],
        ),
        ("   ", []),
    ],
)
def test_sentences_of_a_paragraph(paragraph: str, sentences: list[str]) -> None:
    assert split_sentences(paragraph) == sentences


def at_most(characters: int):  # type: ignore[no-untyped-def]
    return lambda text: len(text) <= characters


def test_a_sentence_too_long_splits_at_clauses_then_words_then_halves() -> None:
    assert split_to_fit("short", at_most(10)) == ["short"]
    assert split_to_fit("one two, three four; five", at_most(12)) == [
        "one two,",
        "three four;",
        "five",
    ]
    assert split_to_fit("aaaa bbbb cccc dddd", at_most(9)) == ["aaaa bbbb", "cccc dddd"]
    assert split_to_fit("我们喜欢喝茶，你们喜欢喝咖啡", at_most(7)) == [
        "我们喜欢喝茶，",
        "你们喜欢喝咖啡",
    ]
    pieces = split_to_fit("x" * 25, at_most(7))
    assert "".join(pieces) == "x" * 25 and all(len(p) <= 7 for p in pieces)


def test_paragraphs_are_joined_back_in_their_script() -> None:
    segments = split_paragraphs(["A b. C d.", "", "E f."], at_most(100))
    assert segments.pieces == ["A b.", "C d.", "E f."]
    assert segments.counts == [2, 0, 1]
    assert join_paragraphs(["你好。", "谢谢。", "再见。"], segments.counts) == [
        "你好。谢谢。",
        "",
        "再见。",
    ]
    assert join_paragraphs(["Hello.", "Thanks.", "Bye."], segments.counts) == [
        "Hello. Thanks.",
        "",
        "Bye.",
    ]


@pytest.fixture(scope="module")
def translator(tmp_path_factory: pytest.TempPathFactory) -> Translator:
    run: ToyRun = trained_toy_run(tmp_path_factory)
    return Translator.load(run.run_dir)


def test_a_document_is_its_sentences_translated_and_joined(translator: Translator) -> None:
    sentences = ["i like tea.", "you see a big dog.", "we eat rice and fish today."]
    paragraphs = [" ".join(sentences), "", sentences[1]]
    alone = translator.translate(sentences)
    assert translator.translate_documents(paragraphs) == [
        join_paragraphs(alone, [3])[0],
        "",
        alone[1],
    ]


def test_a_paragraph_longer_than_the_model_is_translated_whole(translator: Translator) -> None:
    sentence = "i like tea and you like water and we eat rice and fish today"
    paragraph = ", ".join([sentence] * 8)  # one sentence, far over the toy model's 64 positions
    assert not translator.fits(paragraph)
    segments = split_paragraphs([paragraph], translator.fits)
    assert len(segments.pieces) > 1 and all(translator.fits(p) for p in segments.pieces)
    (translation,) = translator.translate_documents([paragraph])
    assert translation == join_paragraphs(translator.translate(segments.pieces), segments.counts)[0]
    (cut,) = translator.translate_detailed([paragraph])
    assert cut.truncated  # without document mode the same line is cut to the limit
