"""Which cross-attention aligns words: agreement with CC-CEDICT links, per layer, head and step.

    python benchmarks/alignment_heads.py runs/quickstart
    python benchmarks/alignment_heads.py runs/quickstart --limit 500

There are no gold word alignments for the test split, so this measures against partial ones
inferred from a lexicon (``benchmarks/cedict.py``): a source word whose CC-CEDICT translation
occurs exactly once in the reference is linked to that span (e.g. tea -> 茶). Each reference is
teacher-forced once; for every decoder layer, every head alone and all heads averaged, and the
two steps of each target token (the step that *predicts* it, and the one that has *read* it),
every target word is aligned to its most attended source word
(:func:`transformer_mt.decoding.alignment.word_alignment`). The score is the share of linked
target characters aligned to their lexicon source word. A monotone baseline (target word j ->
source word j * source words / target words) shows what position alone gives. Last: the best
layer's heads averaged in order of their own scores (top 1, top 2, ...).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import torch

from cedict import Lexicon, Link
from transformer_mt.commands.evaluate import split_pairs
from transformer_mt.decoding.alignment import word_alignment
from transformer_mt.decoding.translator import Translator


@dataclass
class Pair:
    cross: list[torch.Tensor]  # per decoder layer (H, T+1, S)
    source_words: list[int | None]
    target_words: list[list[int]]
    links: list[Link]


def collect(translator: Translator, run: Path, lexicon: Lexicon, limit: int) -> list[Pair]:
    """Every test pair with lexicon links, and its cross-attention under teacher forcing."""
    sources, references = split_pairs(run, "test", report=lambda _: None)
    aligner, config = translator.aligner, translator.model.config
    encoded, _ = translator.encode_sources(sources[:limit])
    targets = translator.tokenizer.encode_target(references[:limit])
    texts = translator.tokenizer.decode_target(targets)  # the reference as the model spells it
    pairs: list[Pair] = []
    chosen = [
        (src, tgt, links)
        for source, src, tgt, text in zip(sources, encoded, targets, texts, strict=False)
        if src and tgt and (links := lexicon.links(source, text))
    ]
    for start in range(0, len(chosen), 64):
        batch = chosen[start : start + 64]
        width = max(len(tgt) for _, tgt, _ in batch) + 1
        src = torch.nn.utils.rnn.pad_sequence(
            [torch.tensor(s) for s, _, _ in batch], batch_first=True, padding_value=config.pad_id
        )  # (B, S)
        tgt = torch.tensor(
            [[config.bos_id, *t] + [config.pad_id] * (width - len(t) - 1) for _, t, _ in batch]
        )  # (B, T+1)
        weights: list[dict[str, torch.Tensor]] = []
        with torch.inference_mode():
            translator.model.decode(tgt, translator.model.encode(src), src, weights=weights)
        for b, (s, t, links) in enumerate(batch):
            cross = [layer["cross"][b, :, : len(t) + 1, : len(s)].float() for layer in weights]
            pairs.append(Pair(cross, aligner.source_words(s), aligner.target_words(t), links))
    return pairs


def agreement(pairs: list[Pair], layer: int | None, heads: list[int], after: bool) -> float:
    """Share of linked target words aligned to their lexicon source word (layer None: the
    monotone baseline)."""
    hits = total = 0
    for pair in pairs:
        words = len(pair.target_words)
        if layer is None:
            source_count = max(w for w in pair.source_words if w is not None) + 1
            target_count = max(w for ws in pair.target_words for w in ws) + 1
            scale = (source_count - 1) / max(target_count - 1, 1)
            found = {j: round(j * scale) for j in range(target_count)}
        else:
            start = 1 if after else 0
            matrix = pair.cross[layer][heads].mean(dim=0)[start : start + words]  # (T, S)
            found = {j: i for i, j in word_alignment(matrix, pair.source_words, pair.target_words)}
        for link in pair.links:
            for j in link.target_words:
                total += 1
                hits += found.get(j) == link.source_word
    return hits / max(total, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--limit", type=int, default=2000, help="Test pairs read (default 2000).")
    args = parser.parse_args()
    torch.manual_seed(0)
    translator = Translator.load(args.run)
    pairs = collect(translator, args.run, Lexicon.load(), args.limit)
    links = sum(len(link.target_words) for pair in pairs for link in pair.links)
    print(f"{len(pairs)} test pairs with lexicon links, {links} linked target characters")
    print(f"monotone baseline: {agreement(pairs, None, [], False):.1%}\n")
    layers, heads = len(pairs[0].cross), pairs[0].cross[0].shape[0]
    print("| layer | heads | predicting | after reading |\n|---|---|---|---|")
    best: tuple[float, int, bool] = (0.0, 0, False)
    for layer in range(layers):
        for head in [*[[h] for h in range(heads)], list(range(heads))]:
            scores = [agreement(pairs, layer, head, after) for after in (False, True)]
            name = "all (mean)" if len(head) == heads else str(head[0] + 1)
            print(f"| {layer + 1} | {name} | {scores[0]:.1%} | {scores[1]:.1%} |")
            if len(head) == heads:
                best = max(best, (scores[0], layer, False), (scores[1], layer, True))
    _, layer, after = best
    order = sorted(range(heads), key=lambda h: -agreement(pairs, layer, [h], after))
    step = "after reading" if after else "predicting"
    print(f"\nlayer {layer + 1} ({step}), its best heads averaged:")
    for count in range(1, heads + 1):
        chosen = order[:count]
        score = agreement(pairs, layer, chosen, after)
        print(f"  heads {[h + 1 for h in chosen]}: {score:.1%}")


if __name__ == "__main__":
    main()
