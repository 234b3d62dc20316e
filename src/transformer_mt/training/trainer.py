"""The training loop: updates, validation, early stopping, checkpoints, resume, logging.

Training is teacher forcing (``training/step.py``): one parallel forward pass per batch. Around it
this module keeps the run trustworthy over hours: the best weights by a validation metric in
``model.safetensors``, the last few resumable checkpoints in ``checkpoints/`` (written
atomically), and a data position and random state that let ``--resume`` continue exactly.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.artifacts.weights import apply_weights, save_weights, unique_tensors
from transformer_mt.config import TrainingConfig
from transformer_mt.model.factory import Model
from transformer_mt.training.averaging import WeightAverage
from transformer_mt.training.distributed import Workers
from transformer_mt.training.encoded import TrainingCorpus
from transformer_mt.training.interrupt import StopRequest
from transformer_mt.training.metrics_log import MetricsLog
from transformer_mt.training.progress import Progress
from transformer_mt.training.schedule import budget_progress, lr_factor
from transformer_mt.training.snapshot import (
    Snapshot,
    checkpoint_path,
    prune_checkpoints,
    save_snapshot,
)
from transformer_mt.training.state import TrainState, improved, rng_from_json, rng_to_json
from transformer_mt.training.step import (
    TeacherForcing,
    UpdateResult,
    accumulate_gradients,
    validation_loss,
)

Report = Callable[[str], None]
# Validation BLEU, supplied by the caller (training imports no decoding or evaluation code):
# sources, references -> (BLEU, chrF) of the model's translations of the sources.
TranslationScore = Callable[[list[str], list[str]], tuple[float, float]]
Position = tuple[int, int, list[Any] | None]  # epoch, batches consumed in it, its batch-order RNG
Indices = np.ndarray  # (B,) corpus indices of one batch


class Trainer:
    """Runs the optimisation loop, validation and checkpointing for one run directory."""

    def __init__(
        self,
        model: Model,
        train: TrainingCorpus,
        valid: TrainingCorpus,
        config: TrainingConfig,
        *,
        run: RunDir,
        bleu: TranslationScore,
        valid_pairs: list[tuple[str, str]],
        device: torch.device,
        report: Report = print,
        workers: Workers | None = None,
        extra_scores: Callable[[], dict[str, float]] | None = None,
    ) -> None:
        if not len(train):
            raise ValueError("no training pairs: every batch order would be empty")
        self.model = model.to(device)
        self.train_data, self.valid_data = train, valid
        self.target_lengths = train.target_lengths  # (N,) numpy: no Python object per pair
        self.config = config
        self.run_dir = run
        self.bleu = bleu
        self.bleu_pairs = valid_pairs[: config.bleu_sentences]
        self.extra_scores = extra_scores  # more scores with BLEU (e.g. an old domain's)
        self.device = device
        self.report = report
        self.workers = workers or Workers()
        self.loss_module: torch.nn.Module = TeacherForcing(model, config.label_smoothing)
        if self.workers.distributed:
            ids = [device.index] if device.type == "cuda" else None
            self.loss_module = DistributedDataParallel(self.loss_module, device_ids=ids)
        self.optimizer = torch.optim.Adam(
            model.parameters(),
            lr=config.lr,
            betas=config.adam_betas,
            eps=config.adam_eps,
            weight_decay=config.weight_decay,
        )
        self.progress = 0.0  # share of the budget used, as rank 0 measures it (_finished)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda step: lr_factor(config.schedule, step + 1, config.warmup_steps, self.progress),
        )
        self.scaler = torch.amp.GradScaler(device.type) if config.precision == "fp16" else None
        self.average = WeightAverage(model, config.ema_decay) if config.ema_decay else None
        self.state = TrainState()
        self.updates_per_epoch: int | None = None  # known once run() has counted the batches
        self.rng = random.Random(config.seed)
        self.resumed_at: int | None = None
        self.bleu_step: int | None = None  # step of the latest validation with BLEU
        self.saved_step: int | None = None  # step of the latest checkpoint
        self.log: MetricsLog | None = None
        self.stop = StopRequest(report)
        self.stopping = False  # a stop signal reached some worker (agreed by all)

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> TrainState:
        config, state, workers = self.config, self.state, self.workers
        if workers.is_main:
            self.log = MetricsLog(
                self.run_dir, tensorboard=config.tensorboard, resumed_at=self.resumed_at
            )
        per_update = config.accumulate * workers.world_size
        batches = self.train_data.num_batches(config.max_tokens)
        updates_per_epoch = math.ceil(batches / per_update)
        self.updates_per_epoch = updates_per_epoch
        if per_update > batches and workers.is_main:
            self.report(
                f"warning: training.accumulate={config.accumulate}: each update takes "
                f"{per_update} batches, {per_update / batches:.1f} passes over the data's {batches}"
            )
        progress = Progress(config, updates_per_epoch, initial=state.step, enabled=workers.is_main)
        updates = self._updates(per_update)
        try:
            with self.stop:  # a signal from here on ends the run at an update boundary
                self._loop(updates, progress)
                progress.close()
                if not self.stopping and self.bleu_step != state.step:
                    self.validate(with_bleu=True)
                if self.saved_step != state.step:
                    # After a stop signal this checkpoint, at an update boundary, resumes
                    # exactly like an uninterrupted run.
                    self.save_checkpoint()
        except KeyboardInterrupt:
            if workers.is_main:  # a second signal: the update in flight cannot be saved exactly
                self.report(
                    f"stopped at once after step {state.step}; the latest checkpoint "
                    f"(step {self.saved_step}) is kept; resume with --resume"
                )
            raise
        finally:
            progress.close()
            if self.log is not None:
                self.log.close()
        if self.stopping:
            if workers.is_main:
                self.report(f"interrupted at step {state.step}; resume with --resume")
            raise KeyboardInterrupt
        return state

    def _loop(self, updates: Iterator[tuple[list[Indices], Position]], progress: Progress) -> None:
        """Updates, with validation and checkpoints, until a limit, the data or a stop signal."""
        config, state = self.config, self.state
        while not self._finished():
            started = time.perf_counter()  # training time includes building the batches
            item = next(updates, None)
            if item is None:
                break
            group, position = item
            result = self.update(group)
            # The update is done: only now does the data position move past its batches, so
            # an interruption mid-update resumes with the same batches.
            state.epoch, state.batch_in_epoch, state.epoch_rng = position
            self._count_cells(group)
            state.elapsed += time.perf_counter() - started
            state.step += 1
            state.target_tokens += result.tokens
            loss = result.nll / max(result.tokens, 1)
            progress.update(state, loss, self.scheduler.get_last_lr()[0])
            if state.step % config.log_every == 0:
                self._log({"loss": loss, "tokens": result.tokens}, kind="train")
            if config.max_steps is not None and state.step >= config.max_steps:
                break  # the final validation and checkpoint follow the loop
            self._maybe_validate()
            if state.step % config.checkpoint_interval == 0:
                self.save_checkpoint()

    def _updates(self, per_update: int) -> Iterator[tuple[list[Indices], Position]]:
        """Groups of ``per_update`` batches (as corpus indices), across epoch boundaries, each
        with the data position just after it."""
        group: list[Indices] = []
        position: Position | None = None
        for indices, position in self._batch_indices():
            group.append(indices)
            if len(group) == per_update:
                yield group, position
                group = []
        if position is not None and len(group) >= self.workers.world_size:
            yield group, position  # every worker needs at least one batch

    def _batch_indices(self) -> Iterator[tuple[Indices, Position]]:
        """Batches in a seeded order per epoch, from the state's data position on (mid-epoch on
        resume); each with the position after it: (epoch, batches consumed, epoch's RNG)."""
        config = self.config
        epoch, consumed, epoch_rng = (
            self.state.epoch,
            self.state.batch_in_epoch,
            self.state.epoch_rng,
        )
        while True:
            if consumed == 0:
                if config.max_epochs is not None and epoch >= config.max_epochs:
                    return
                epoch, epoch_rng = epoch + 1, rng_to_json(self.rng)
            else:  # resuming: replay this epoch's shuffle, then skip what was consumed
                assert epoch_rng is not None
                rng_from_json(self.rng, epoch_rng)
            order = self.train_data.batch_order(config.max_tokens, self.rng)
            for index in range(consumed, len(order)):
                position = (epoch, index + 1, epoch_rng)
                yield order[index], position
            consumed = 0

    def update(self, group: list[Indices]) -> UpdateResult:
        """One optimizer update over a group of batches (this worker takes its share)."""
        self.model.train()
        workers = self.workers
        total_tokens = sum(int(self.target_lengths[indices].sum()) for indices in group)
        mine = [
            self.train_data.batch(indices).to(self.device)
            for position, indices in enumerate(group)
            if workers.owns(position)
        ]
        nll = accumulate_gradients(
            self.loss_module,
            mine,
            total_tokens=total_tokens,
            scale=float(workers.world_size),
            device=self.device,
            precision=self.config.precision,
            scaler=self.scaler,
        )
        self._optimizer_step()
        (nll,) = workers.sum([nll])
        return UpdateResult(nll=nll, tokens=total_tokens)

    def _count_cells(self, group: list[Indices]) -> None:
        corpus = self.train_data
        for indices in group:
            sources, targets = corpus.source_lengths[indices], corpus.target_lengths[indices]
            width = int(sources.max()) + int(targets.max())
            self.state.padded_cells += width * len(indices)
            self.state.real_cells += int(sources.sum()) + int(targets.sum())

    def _optimizer_step(self) -> None:
        clip = self.config.clip_norm
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)  # skipped when the gradients overflowed
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.average is not None:
            self.average.update()

    def _finished(self) -> bool:
        """Step, time or patience limits as rank 0 sees them (workers follow rank 0, and take
        its :attr:`progress` through the budget), or a stop signal on any worker (then
        :attr:`stopping` is set on every worker)."""
        config, state, workers = self.config, self.state, self.workers
        done = state.stopped_early
        if config.max_steps is not None and state.step >= config.max_steps:
            done = True
        if config.max_minutes is not None and state.elapsed >= config.max_minutes * 60:
            done = True
        main = workers.is_main
        progress = budget_progress(config, state, self.updates_per_epoch) if main else 0.0
        limit, signalled, self.progress = workers.sum(
            [float(done and main), float(self.stop.requested), progress]
        )
        self.stopping = signalled > 0
        return limit > 0 or self.stopping

    # -- validation and early stopping -------------------------------------------------------
    def _maybe_validate(self) -> None:
        config, step = self.config, self.state.step
        bleu_due = config.bleu_every > 0 and step % config.bleu_every == 0
        if bleu_due or step % config.validate_every == 0:
            self.validate(with_bleu=bleu_due)

    def validate(self, *, with_bleu: bool) -> None:
        """Validation on rank 0 (of the averaged weights when averaging is on)."""
        if self.workers.is_main:
            with self.average.applied() if self.average else contextlib.nullcontext():
                self._validate(with_bleu=with_bleu)
        if with_bleu:
            self.bleu_step = self.state.step
        self.workers.barrier()

    def _validate(self, *, with_bleu: bool) -> None:
        state, config = self.state, self.config
        loss, accuracy = validation_loss(  # on the whole validation set
            self.model, self.valid_data, config.max_tokens, self.device, config.precision
        )
        record = {"valid_loss": loss, "valid_ppl": math.exp(min(loss, 50)), "valid_acc": accuracy}
        if with_bleu:
            sources = [source for source, _ in self.bleu_pairs]
            references = [target for _, target in self.bleu_pairs]
            record["valid_bleu"], record["valid_chrf"] = self.bleu(sources, references)
            record |= self.extra_scores() if self.extra_scores else {}
        self._log(record, kind="valid")
        shown = "  ".join(f"{k}={v:.3f}" for k, v in record.items())
        self.report(f"step {state.step} epoch {state.epoch}: {shown}")
        score = record.get(config.best_metric)
        if score is None:
            return
        if improved(config.best_metric, score, state.best_score):
            state.best_score, state.best_step = score, state.step
            state.checks_without_improvement = 0
            save_weights(self.model, self.run_dir.weights)
            return
        state.checks_without_improvement += 1
        if config.patience is not None and state.checks_without_improvement >= config.patience:
            state.stopped_early = True
            self.report(
                f"early stop: {config.best_metric} has not improved for {config.patience} "
                f"checks (best {state.best_score:.3f} at step {state.best_step})"
            )

    def _log(self, values: dict[str, float], *, kind: str) -> None:
        if self.log is None:
            return
        state = self.state
        self.log.write(
            {
                "kind": kind,
                "step": state.step,
                "epoch": state.epoch,
                "elapsed_s": round(state.elapsed, 2),
                "lr": self.scheduler.get_last_lr()[0],
                "tokens_per_s": state.target_tokens / max(state.elapsed, 1e-9),
                "padding": state.padding_fraction,
                **values,
            }
        )

    # -- checkpoints -------------------------------------------------------------------------
    def snapshot(self, *, collective: bool = True) -> Snapshot:
        """Everything needed to continue exactly from here. ``collective``: every worker calls
        it and each one's random state is kept (otherwise only this worker's)."""
        states = (
            self.workers.gather(torch.get_rng_state()) if collective else [torch.get_rng_state()]
        )
        rng = {f"torch.{rank}": t for rank, t in enumerate(states)}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return Snapshot(
            model=unique_tensors(self.model),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            state=self.state.to_dict(),
            rng=rng,
            average=self.average.average if self.average else None,
            average_updates=self.average.updates if self.average else 0,
            scaler=self.scaler.state_dict() if self.scaler else None,
        )

    def save_checkpoint(self, *, collective: bool = True) -> None:
        """Write a resumable checkpoint (rank 0) and prune old ones; see :meth:`snapshot`."""
        snapshot = self.snapshot(collective=collective)
        if self.workers.is_main:
            path = checkpoint_path(self.run_dir.checkpoints_dir, self.state.step)
            save_snapshot(path, snapshot)
            save_weights(self.model, self.run_dir.last_weights)
            prune_checkpoints(self.run_dir.checkpoints_dir, self.config.keep_last)
        self.saved_step = self.state.step
        if collective:
            self.workers.barrier()

    def restore(self, snapshot: Snapshot, source: Path) -> None:
        """Continue from ``snapshot``: weights, optimizer, schedule, data position, RNGs."""
        apply_weights(self.model, snapshot.model, source)
        self.optimizer.load_state_dict(snapshot.optimizer)
        self.scheduler.load_state_dict(snapshot.scheduler)
        self.state = TrainState.from_dict(snapshot.state)
        rank_rng = snapshot.rng.get(f"torch.{self.workers.rank}")
        if rank_rng is not None:
            torch.set_rng_state(rank_rng)
        if "cuda" in snapshot.rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(snapshot.rng["cuda"], self.device)
        if self.average is not None and snapshot.average is not None:
            with torch.no_grad():
                for mine, saved in zip(self.average.average, snapshot.average, strict=True):
                    mine.copy_(saved)
            self.average.updates = snapshot.average_updates
        if self.scaler is not None and snapshot.scaler:
            self.scaler.load_state_dict(snapshot.scaler)
        self.resumed_at = self.saved_step = self.state.step
