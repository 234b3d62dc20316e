"""A training progress bar: step, loss, learning rate, target tokens/s and ETA."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from transformer_mt.config import TrainingConfig

if TYPE_CHECKING:
    from transformer_mt.training.state import TrainState


class Progress:
    """tqdm over update steps. With a time budget the total is re-estimated from the step rate,
    so the ETA is that of the budget (or of the step/epoch limit, whichever comes first)."""

    def __init__(
        self,
        config: TrainingConfig,
        updates_per_epoch: int,
        *,
        initial: int = 0,
        enabled: bool = True,
    ) -> None:
        self.config = config
        self.updates_per_epoch = updates_per_epoch
        self.bar = tqdm(
            total=self._total(0, 0.0),
            initial=initial,
            unit="step",
            dynamic_ncols=True,
            smoothing=0.05,
            disable=not enabled,
        )

    def _total(self, step: int, elapsed: float) -> int | None:
        limits = []
        if self.config.max_steps is not None:
            limits.append(self.config.max_steps)
        if self.config.max_epochs is not None:
            limits.append(self.config.max_epochs * self.updates_per_epoch)
        if self.config.max_minutes is not None and step > 0 and elapsed > 0:
            limits.append(int(step / elapsed * self.config.max_minutes * 60))
        return min(limits) if limits else None

    def update(self, state: TrainState, loss: float, lr: float) -> None:
        total = self._total(state.step, state.elapsed)
        if total is not None:
            self.bar.total = max(total, state.step)
        rate = state.target_tokens / max(state.elapsed, 1e-9)
        self.bar.set_postfix(
            epoch=state.epoch,
            loss=f"{loss:.3f}",
            lr=f"{lr:.2e}",
            tok_s=f"{rate:,.0f}",
            refresh=False,
        )
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
