"""The metrics of a run, written three ways: JSONL (every field), CSV (fixed columns, for
spreadsheets) and TensorBoard event files (``tensorboard --logdir RUN_DIR/tensorboard``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.data.readers import decode_utf8_line
from transformer_mt.errors import DataError

CSV_COLUMNS = (
    "kind",
    "step",
    "epoch",
    "elapsed_s",
    "lr",
    "tokens_per_s",
    "loss",
    "tokens",
    "padding",
    "valid_loss",
    "valid_ppl",
    "valid_acc",
    "valid_bleu",
    "valid_chrf",
)
SCALARS = ("loss", "lr", "tokens_per_s", "padding", *CSV_COLUMNS[9:])


class MetricsLog:
    """Appends records to ``metrics.jsonl`` and ``metrics.csv``; mirrors scalars to TensorBoard.

    Appending (never rewriting) keeps the history of a resumed run; records past the step a run
    resumes from are dropped first by :func:`truncate_after`.
    """

    def __init__(self, run: RunDir, *, tensorboard: bool, resumed_at: int | None = None) -> None:
        self.jsonl, self.csv = run.metrics, run.metrics_csv
        if resumed_at is not None:
            truncate_after(run, resumed_at)
        self.writer = _summary_writer(run.tensorboard_dir, resumed_at) if tensorboard else None

    def write(self, record: dict[str, Any]) -> None:
        with self.jsonl.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        new_file = not self.csv.exists()
        with self.csv.open("a", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, CSV_COLUMNS, extrasaction="ignore")
            if new_file:
                writer.writeheader()
            writer.writerow(record)
        if self.writer is not None:
            prefix = "train" if record["kind"] == "train" else "valid"
            for name in SCALARS:
                if name in record:
                    tag = name if name.startswith("valid_") else f"{prefix}/{name}"
                    self.writer.add_scalar(tag, record[name], record["step"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` file.

    A torn last line (a run killed mid-write) is skipped; any other line that is not a JSON
    record with a ``step`` is a :class:`DataError` naming it (``metrics.jsonl:7: ...``).
    """
    if not path.is_file():
        return []
    lines = path.read_bytes().splitlines()
    records = []
    for number, raw in enumerate(lines, start=1):
        try:
            record = json.loads(decode_utf8_line(raw, path, number))
        except json.JSONDecodeError:
            if number == len(lines):
                continue
            raise DataError(path, number, "not a JSON record (was the file edited?)") from None
        if not isinstance(record, dict) or not isinstance(record.get("step"), int):
            raise DataError(path, number, "not a metrics record (no integer 'step')")
        records.append(record)
    return records


def truncate_after(run: RunDir, step: int) -> None:
    """Drop logged records after ``step`` (work a resumed run will redo)."""
    kept = [r for r in read_metrics(run.metrics) if r["step"] <= step]
    run.metrics.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
    with run.metrics_csv.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(kept)


def _summary_writer(directory: Path, resumed_at: int | None) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # the tensorboard package is missing
        return None
    # purge_step hides events a resumed run is about to log again.
    purge = resumed_at + 1 if resumed_at is not None else None
    return SummaryWriter(str(directory), purge_step=purge)
