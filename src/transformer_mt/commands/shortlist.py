"""``transformer-mt shortlist``: build a run's vocabulary shortlist from its training pairs."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.commands.train import experiment_splits
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.errors import UserError
from transformer_mt.inference.shortlist import FILE_NAME, Shortlist, build_shortlist


def make_shortlist(
    run_dir: Path,
    *,
    top: int = 50,
    frequent: int = 100,
    max_pairs: int = 1_000_000,
    report: Callable[[str], None] = print,
) -> tuple[Path, Shortlist]:
    """Count the run's training pairs (a seeded sample of ``max_pairs`` where there are more),
    write ``RUN_DIR/shortlist.safetensors`` and return its path and the shortlist."""
    if max_pairs < 1:
        raise UserError(f"--max-pairs must be at least 1, got {max_pairs}")
    run = RunDir(run_dir)
    pairs = experiment_splits(run.read_config(), report).train
    if not pairs:
        raise UserError(f"{run_dir}: the run's data has no training pairs")
    if len(pairs) > max_pairs:
        pairs = random.Random(0).sample(pairs, max_pairs)
    tokenizer = Tokenizer.load(run.tokenizer_dir)
    sources = tokenizer.encode_source([source for source, _ in pairs])
    targets = tokenizer.encode_target([target for _, target in pairs])
    special = (tokenizer.eos_id, tokenizer.unk_id)
    shortlist = build_shortlist(
        sources,
        targets,
        tokenizer.source_vocab_size,
        tokenizer.target_vocab_size,
        top=top,
        frequent=frequent,
        special=special,
    )
    path = Path(run_dir) / FILE_NAME
    temporary = path.with_name(f".{FILE_NAME}.tmp")
    shortlist.save(temporary)
    temporary.replace(path)  # atomic: a reader never sees half a file
    return path, shortlist
