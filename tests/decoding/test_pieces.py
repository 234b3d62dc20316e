"""Pieces as bytes and the words they form (the units of an alignment)."""

from __future__ import annotations

from transformer_mt.decoding.pieces import piece_bytes, split_words, token_words, word_spans


def test_piece_bytes() -> None:
    assert piece_bytes("\u2581tea") == b" tea"
    assert piece_bytes("喝茶") == "喝茶".encode()
    assert piece_bytes("<0xE4>") == b"\xe4"


def test_words_are_whitespace_tokens_and_cjk_characters() -> None:
    assert split_words("我喜欢 green tea。") == ["我", "喜", "欢", "green", "tea", "。"]
    assert split_words("  Hello,  world!  ") == ["Hello,", "world!"]
    assert split_words("") == []
    assert word_spans("ab 茶c") == [(0, 2), (3, 4), (4, 5)]


def test_token_words_follow_the_joined_text() -> None:
    surfaces = [" 我喜欢".encode(), "喝茶".encode(), b".", b" green", b" te", b"a", b""]
    assert token_words(surfaces) == [[0, 1, 2], [3, 4], [5], [6], [7], [7], []]


def test_a_character_split_over_byte_pieces_belongs_to_its_first_byte() -> None:
    tea = "茶".encode()
    assert token_words([tea[:1], tea[1:2], tea[2:], b"x"]) == [[0], [], [], [1]]
