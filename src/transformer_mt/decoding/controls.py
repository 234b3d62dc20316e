"""Output controls: a target prefix and terminology constraints per sentence, as token ids.

:func:`encode_controls` turns the user's text into :class:`OutputControls` and checks it: one
:class:`ControlError` (a ``ValueError``) with one line of text for every mistake (an empty
term, a prefix that tokenizes to nothing, a term or prefix longer than the sentence's output
limit, more terms than the beam can hold, terms with sampling).

A prefix is tokenized as the start of a sentence. A term is tokenized as the *inside* of one:
SentencePiece marks a word start with ``▁``, which a Chinese term in mid-sentence does not have
("茶" is ``▁ 茶`` alone but ``茶`` after "喝"); a term in a spaced language starts a word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from transformer_mt.data.scripts import is_cjk
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.decoding.constraints import SentenceConstraints, Term
from transformer_mt.decoding.pieces import WORD_START, piece_bytes


class ControlError(ValueError):
    """A prefix or constraint the search cannot honour; ``sentence`` is its 0-based index."""

    def __init__(self, sentence: int | None, problem: str) -> None:
        where = f"sentence {sentence + 1}: " if sentence is not None else ""
        super().__init__(where + problem)
        self.sentence = sentence
        self.problem = problem


@dataclass(frozen=True)
class OutputControls:
    """Per sentence of a batch: the forced prefix (``()``: none) and the terms to write."""

    prefixes: tuple[tuple[int, ...], ...]
    terms: tuple[tuple[Term, ...], ...]
    token_bytes: Sequence[bytes]  # what each target token adds to the output (V entries)

    def select(self, indices: Sequence[int]) -> OutputControls:
        """The controls of the sentences ``indices``, in that order (one batch)."""
        return OutputControls(
            tuple(self.prefixes[i] for i in indices),
            tuple(self.terms[i] for i in indices),
            self.token_bytes,
        )

    def constraints(self, sentence: int) -> SentenceConstraints | None:
        """The constraint matcher of one sentence (None: no terms)."""
        terms = self.terms[sentence]
        return SentenceConstraints(terms, self.token_bytes) if terms else None

    def needed(self, sentence: int) -> int:
        """Tokens the sentence's prefix and terms take at least (terms written one after the
        other after the prefix)."""
        return len(self.prefixes[sentence]) + sum(len(t.tokens) for t in self.terms[sentence])


class TargetVocabulary:
    """The target tokenizer as the controls need it: pieces, their bytes, inside-word
    tokenization."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        pieces = tokenizer.target_id_pieces(range(tokenizer.target_vocab_size))
        self.piece_id = {piece: index for index, piece in enumerate(pieces)}
        specials = {tokenizer.pad_id, tokenizer.unk_id, tokenizer.bos_id, tokenizer.eos_id}
        self.token_bytes = [
            b"" if index in specials else piece_bytes(piece) for index, piece in enumerate(pieces)
        ]

    def prefix(self, text: str) -> tuple[int, ...]:
        """A prefix's tokens: the start of a sentence."""
        return tuple(self.tokenizer.encode_target([text])[0])

    def term(self, text: str) -> Term:
        """A term's tokens inside a sentence, and its continuation after each of its bytes."""
        tokens = self.inside(text.strip(), word_start=not is_cjk(text.strip()[0]))
        surface = b"".join(self.token_bytes[token] for token in tokens)
        continuations = [tokens]
        boundaries = {
            len(b"".join(self.token_bytes[t] for t in tokens[:n])): n for n in range(1, len(tokens))
        }
        for done in range(1, len(surface)):
            if done in boundaries:
                continuations.append(tokens[boundaries[done] :])
            else:
                continuations.append(self.spell(surface[done:]))
        return Term(text, surface, tuple(continuations))

    def inside(self, text: str, *, word_start: bool) -> tuple[int, ...]:
        """Tokens of ``text`` written inside a sentence: with the word-start mark only when
        ``word_start`` (SentencePiece adds it to every text it encodes)."""
        ids = self.tokenizer.encode_target([text])[0]
        if word_start or not ids:
            return tuple(ids)
        first = self.tokenizer.target_id_pieces(ids[:1])[0]
        if first == WORD_START:
            return tuple(ids[1:])
        if first.startswith(WORD_START):
            head = first[1:]
            head_ids = [self.piece_id[head]] if head in self.piece_id else self.characters(head)
            return (*head_ids, *ids[1:])
        return tuple(ids)

    def characters(self, text: str) -> list[int]:
        """One piece per character where the vocabulary has it, else its UTF-8 byte pieces."""
        ids: list[int] = []
        for char in text:
            ids += [self.piece_id[char]] if char in self.piece_id else self.bytes_(char.encode())
        return ids

    def bytes_(self, data: bytes) -> list[int]:
        """The byte-fallback pieces of ``data``; an error if the vocabulary has none."""
        try:
            return [self.piece_id[f"<0x{byte:02X}>"] for byte in data]
        except KeyError:
            problem = f"the model's target vocabulary cannot spell {data!r}"
            raise ControlError(None, problem) from None

    def spell(self, rest: bytes) -> tuple[int, ...]:
        """Tokens that add exactly the bytes ``rest`` (the end of a term) to an output."""
        cut = 0
        while cut < len(rest) and rest[cut] & 0xC0 == 0x80:  # the end of a split character
            cut += 1
        text = rest[cut:].decode("utf-8")
        tokens = self.inside(text.lstrip(" "), word_start=text.startswith(" ")) if text else ()
        if b"".join(self.token_bytes[t] for t in tokens) != rest[cut:]:
            tokens = tuple(self.bytes_(rest[cut:]))  # normalisation changed it: spell it out
        return (*self.bytes_(rest[:cut]), *tokens)


def encode_controls(
    vocabulary: TargetVocabulary,
    count: int,
    prefixes: Sequence[str | None] | None,
    constraints: Sequence[Sequence[str]] | None,
) -> OutputControls:
    """The controls of ``count`` sentences; a :class:`ControlError` for any malformed one."""
    prefix_texts = _per_sentence(prefixes, count, "prefixes")
    term_lists = _per_sentence(constraints, count, "constraints")
    encoded_prefixes, encoded_terms = [], []
    for index, (prefix, terms) in enumerate(zip(prefix_texts, term_lists, strict=True)):
        encoded_prefixes.append(_prefix(vocabulary, index, prefix))
        encoded_terms.append(_terms(vocabulary, index, terms))
    return OutputControls(tuple(encoded_prefixes), tuple(encoded_terms), vocabulary.token_bytes)


def _per_sentence(values: Sequence[Any] | None, count: int, name: str) -> list[Any]:
    if values is None:
        return [None] * count
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ControlError(None, f"{name} must be a list with one entry per sentence")
    if len(values) != count:
        raise ControlError(None, f"{name} has {len(values)} entries for {count} sentences")
    return list(values)


def _prefix(vocabulary: TargetVocabulary, index: int, prefix: Any) -> tuple[int, ...]:
    if prefix is None or prefix == "":
        return ()
    if not isinstance(prefix, str):
        raise ControlError(index, f"a prefix must be a string or None, got {prefix!r}")
    tokens = vocabulary.prefix(prefix)
    if not tokens:
        raise ControlError(index, f"the prefix {prefix!r} tokenizes to nothing")
    return tokens


def _terms(vocabulary: TargetVocabulary, index: int, terms: Any) -> tuple[Term, ...]:
    if terms is None:
        return ()
    if isinstance(terms, str) or not isinstance(terms, Sequence):
        raise ControlError(index, f"constraints must be a list of phrases, got {terms!r}")
    encoded: dict[bytes, Term] = {}
    for term in terms:
        if not isinstance(term, str):
            raise ControlError(index, f"a constraint must be a string, got {term!r}")
        if not term.strip():
            raise ControlError(index, f"empty constraint {term!r}")
        found = vocabulary.term(term)
        if not found.tokens:
            raise ControlError(index, f"the constraint {term!r} tokenizes to nothing")
        encoded.setdefault(found.surface, found)  # a term given twice is written once
    return tuple(encoded.values())


def check_controls(
    controls: OutputControls, limits: Sequence[int], *, beam_size: int, sample: bool
) -> None:
    """Whether the search can honour every sentence's controls within its output limit."""
    for index, (prefix, terms) in enumerate(zip(controls.prefixes, controls.terms, strict=True)):
        limit = limits[index]
        what = "max_length_ratio x source tokens + max_length_offset"
        if len(prefix) > limit:
            raise ControlError(
                index,
                f"the prefix is {len(prefix)} tokens, over the output limit of {limit} ({what})",
            )
        for term in terms:
            if len(term.tokens) > limit:
                raise ControlError(
                    index,
                    f"the constraint {term.text!r} is {len(term.tokens)} tokens, over the output "
                    f"limit of {limit} ({what})",
                )
        if controls.needed(index) > limit:
            raise ControlError(
                index,
                f"the prefix and constraints take {controls.needed(index)} tokens, over the "
                f"output limit of {limit} ({what})",
            )
        if terms and sample:
            raise ControlError(index, "constraints need beam search, not sampling (sample)")
        if terms and beam_size <= len(terms):
            raise ControlError(
                index,
                f"{len(terms)} constraint(s) need a beam_size of at least {len(terms) + 1} "
                f"(one beam more than constraints), got {beam_size}",
            )
