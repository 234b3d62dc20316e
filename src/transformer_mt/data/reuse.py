"""``data.tokenizer``: train with an existing tokenizer instead of training a new one.

The spec names a run directory, its ``tokenizer/`` folder (either kind: ours or an imported
model's), or SentencePiece model file(s): one joint ``.model``, or ``[source.model,
target.model]``. Model files must use our special ids (pad 0, unk 1, bos 2, eos 3); they are
turned into a tokenizer folder in a cache directory named after their content.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from transformer_mt.data.tokenizer import MANIFEST_NAME, Tokenizer, check_model, read_processor
from transformer_mt.errors import UserError


def reused_tokenizer(spec: str | list[str], cache_dir: Path) -> Path:
    """The tokenizer folder ``spec`` names (made in ``cache_dir`` for model files)."""
    if isinstance(spec, str):
        path = Path(spec)
        for candidate in (path, path / "tokenizer"):
            if (candidate / MANIFEST_NAME).is_file():
                return candidate
        if not path.is_file():
            raise UserError(
                f"data.tokenizer: {path} is not a run directory, a tokenizer folder or a "
                "SentencePiece model file"
            )
    files = [Path(spec)] if isinstance(spec, str) else [Path(p) for p in spec]
    return _from_model_files(files, cache_dir)


def _from_model_files(files: list[Path], cache_dir: Path) -> Path:
    """A tokenizer folder holding copies of SentencePiece model file(s)."""
    contents = []
    for path in files:
        if not path.is_file():
            raise UserError(f"data.tokenizer: {path}: no such file")
        processor = read_processor(path)
        check_model(processor, path, processor.get_piece_size())
        contents.append(path.read_bytes())
    digest = hashlib.blake2b(b"".join(contents), digest_size=12).hexdigest()
    directory = cache_dir / digest
    if (directory / MANIFEST_NAME).is_file():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    joint = len(files) == 1
    names = ["spm.model"] if joint else ["source.model", "target.model"]
    for name, content in zip(names, contents, strict=True):
        (directory / name).write_bytes(content)
    source, target = (read_processor(directory / name) for name in (names[0], names[-1]))
    tokenizer = Tokenizer(source, target, joint=joint)
    tokenizer.write_manifest(directory, names[0], names[-1], "given")
    return directory
