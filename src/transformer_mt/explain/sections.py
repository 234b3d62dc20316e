"""The sections of ``transformer-mt explain``, in report order (no imports: the CLI reads it)."""

SECTIONS = ("dimensions", "masks", "shift", "attention", "trace", "exposure")
