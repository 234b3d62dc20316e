"""Stopping training on Ctrl-C (SIGINT) or SIGTERM without losing or bending anything.

A signal that arrives mid-update cannot be checkpointed exactly: the weights may be half
updated, dropout has drawn from the random stream, the data position is between batches. So the
first SIGINT or SIGTERM only sets a flag; the loop finishes the update it is in, and at that
update boundary writes a checkpoint that resumes exactly like an uninterrupted run (tested like
the ``kill -9`` case). A second signal stops at once (``KeyboardInterrupt``), keeping the last
checkpoint already on disk.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Context manager: while active, the first SIGINT/SIGTERM sets :attr:`requested`.

    Outside the main thread (where Python cannot install handlers) it does nothing and signals
    keep their usual effect.
    """

    def __init__(self, report: Callable[[str], None]) -> None:
        self.report = report
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.signal_name is not None

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for number in SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    def _handle(self, number: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(number).name
        self.report(
            f"{self.signal_name}: finishing this update, then saving a checkpoint "
            "(send it again to stop at once)"
        )
