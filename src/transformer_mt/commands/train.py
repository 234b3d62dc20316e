"""``transformer-mt train``: from a config to a run directory with a trained model.

This is where data, tokenizer, model, trainer and the validation translator meet: the training
package knows nothing of decoding or evaluation; it is handed a function that scores the model's
translations of the validation sentences.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from transformer_mt.artifacts.rundir import RunDir
from transformer_mt.artifacts.weights import remove_stale_temporaries
from transformer_mt.commands import finetune
from transformer_mt.commands.prepare import prepared_store
from transformer_mt.config import (
    DecodingOptions,
    ExperimentConfig,
    TrainingConfig,
    architecture_config,
    with_absolute_paths,
)
from transformer_mt.data.corpus import load_splits
from transformer_mt.data.pairs import SentencePair, Splits
from transformer_mt.data.store import TokenStore
from transformer_mt.data.tokenizer import Tokenizer
from transformer_mt.decoding.translator import Translator
from transformer_mt.errors import UserError
from transformer_mt.evaluation.metrics import corpus_scores
from transformer_mt.model.factory import Model, build_model, parameter_count
from transformer_mt.runtime import configure_cpu, fast_bf16_cpu, resolve_device
from transformer_mt.training.distributed import Workers, start_workers, stop_workers
from transformer_mt.training.resume import check_model_matches, check_resumable, latest_snapshot
from transformer_mt.training.state import TrainState
from transformer_mt.training.store_corpus import StoreCorpus
from transformer_mt.training.trainer import Trainer, TranslationScore

Report = Callable[[str], None]


def experiment_splits(config: ExperimentConfig, report: Report = print) -> Splits:
    """The train/valid/test pairs a config names."""
    data = config.data
    return load_splits(
        dataset=data.dataset,
        direction=data.direction,
        train=data.train,
        valid=data.valid,
        test=data.test,
        skip_invalid=data.skip_invalid,
        report=report,
    )


def check_run_dir(config: ExperimentConfig, *, overwrite: bool) -> None:
    """Refuse to replace a non-empty run directory unless ``overwrite``."""
    path = Path(config.run_dir)
    if path.exists() and not path.is_dir():
        raise UserError(f"{path}: run_dir exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise UserError(
            f"{path}: run directory exists and is not empty; "
            "pass --overwrite or choose another run_dir (--set run_dir=...)"
        )
    if overwrite and Path.cwd().resolve().is_relative_to(path.resolve()):
        # --overwrite deletes the run directory: never the working directory or one above it.
        raise UserError(f"run_dir {str(path)!r} contains the working directory; choose another")


def prepare_run_dir(config: ExperimentConfig, *, overwrite: bool) -> RunDir:
    run = RunDir(Path(config.run_dir))
    check_run_dir(config, overwrite=overwrite)
    if run.path.is_dir() and any(run.path.iterdir()):  # only with overwrite, checked above
        shutil.rmtree(run.path)
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_config(config)
    return run


def train(
    config: ExperimentConfig,
    *,
    overwrite: bool = False,
    resume: bool = False,
    report: Report = print,
    model_keys: set[str] | None = None,
) -> TrainState:
    """Prepare data and tokenizer, train the model, and leave everything in ``config.run_dir``.

    With ``training.init_from`` (fine-tuning, :mod:`.finetune`) the architecture, tokenizer and
    weights are that run's; ``model_keys``, the model fields the user's config sets, must then
    agree with its architecture.

    With ``resume``, continue the run in ``config.run_dir`` from its latest checkpoint: the
    tokenizer is reused and the model and data must match the run's; training settings (step and
    time budgets, validation schedule, patience) may differ. Under ``torchrun`` each process is a
    worker of a data-parallel run; rank 0 writes the run directory.
    """
    config = with_absolute_paths(config)
    if config.training.init_from is not None and not resume:
        config = finetune.inherit(config, model_keys or set())
    training = config.training
    configure_cpu(training.threads or threads_per_worker())
    device = resolve_device(training.device)
    workers = start_workers(device)
    if workers.distributed and device.type == "cuda":
        device = torch.device("cuda", workers.local_rank)
    if not workers.is_main:
        report = _silent
    config = dataclasses.replace(config, training=precision_for(training, device, report))
    try:
        return _train(config, device, workers, overwrite=overwrite, resume=resume, report=report)
    finally:
        stop_workers(workers)


def _train(
    config: ExperimentConfig,
    device: torch.device,
    workers: Workers,
    *,
    overwrite: bool,
    resume: bool,
    report: Report,
) -> TrainState:
    training = config.training
    torch.manual_seed(training.seed)  # the same initial weights on every worker
    run = RunDir(Path(config.run_dir))
    if resume:
        check_resumable(run)
        # Read the checkpoint before writing anything: a run with none loadable stays as it was.
        checkpoint, snapshot = latest_snapshot(run, report)
    elif workers.is_main:  # the others would see the directory rank 0 is making
        check_run_dir(config, overwrite=overwrite)
    started = time.perf_counter()
    # Prepare (or reuse) the token store before touching the run directory, so that a data
    # error leaves no half-made run behind that the corrected command would refuse to overwrite.
    store = _store(config, workers, report)
    valid_pairs = list(store.text_pairs("valid.tsv"))
    report(f"data: {store.pairs('train')} train, {len(valid_pairs)} valid pairs")
    fresh = not resume and workers.is_main
    with _removed_on_failure(run, enabled=fresh):  # no half-made run directory is left behind
        if workers.is_main:
            _write_run_dir(config, run, store, overwrite=overwrite, resume=resume, report=report)
        workers.barrier()
        tokenizer = Tokenizer.load(run.tokenizer_dir)
        if resume and tokenizer != Tokenizer.load(store.path / "tokenizer"):
            # A store prepared anew (a cleared cache, a run from before stores) may have
            # trained another tokenizer: the run continues with its own.
            report("data: the token store's tokenizer is not the run's; preparing with the run's")
            store = _store(config, workers, report, tokenizer=run.tokenizer_dir)
        special = (tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id)
        train_data = StoreCorpus(store, "train", special)
        valid_data = StoreCorpus(store, "valid", special)
        model_config = (
            finetune.parent_architecture(config)
            if config.training.init_from is not None
            else architecture_config(
                config.model,
                tokenizer.source_vocab_size,
                tokenizer.target_vocab_size,
                tokenizer.joint,
            )
        )
        if resume:
            check_model_matches(run, model_config)
        elif workers.is_main:
            run.write_model_config(model_config)
        if config.training.init_from is not None and not resume:
            finetune.report_fallback(store, tokenizer, report)
            model = finetune.parent_model(config, tokenizer, report)
        else:
            model = build_model(model_config)
        finetune.freeze(model, config.training.freeze, report)
        extra_valid = finetune.extra_validation(config, report)
    if workers.rank > 0:  # a dropout stream of its own for each worker
        torch.manual_seed(training.seed + 7919 * workers.rank)
    report(
        f"model: {model_config.kind}, {parameter_count(model) / 1e6:.2f}M parameters, {device}, "
        f"{training.precision}, {torch.get_num_threads()} threads, {workers.world_size} worker(s); "
        f"preparation took {time.perf_counter() - started:.1f}s"
    )
    trainer = Trainer(
        model,
        train_data,
        valid_data,
        training,
        run=run,
        bleu=validation_bleu(model, tokenizer, device, config.evaluation),
        extra_scores=extra_scores(model, tokenizer, device, config.evaluation, extra_valid),
        valid_pairs=valid_pairs,
        device=device,
        report=report,
        workers=workers,
    )
    if resume:
        trainer.restore(snapshot, checkpoint)
        report(f"resuming {run.path} at step {trainer.state.step} (epoch {trainer.state.epoch})")
    state = trainer.run()
    if workers.is_main:
        write_summary(run, state, training.best_metric)
    report(f"trained {state.step} steps in {state.elapsed / 60:.1f} min; run directory: {run.path}")
    return state


def _store(
    config: ExperimentConfig, workers: Workers, report: Report, tokenizer: Path | None = None
) -> TokenStore:
    """The config's token store: rank 0 prepares it if needed, the other workers open it."""
    if workers.is_main:
        store = prepared_store(config, report, tokenizer=tokenizer)
    workers.barrier()
    if not workers.is_main:
        store = prepared_store(config, _silent, tokenizer=tokenizer)
    return store


def _write_run_dir(
    config: ExperimentConfig,
    run: RunDir,
    store: TokenStore,
    *,
    overwrite: bool,
    resume: bool,
    report: Report,
) -> None:
    """A new run directory with its config and the store's tokenizer, or the resumed one's
    config (and the temporary files a killed write left in it removed)."""
    if resume:
        stale = [
            *remove_stale_temporaries(run.path),
            *remove_stale_temporaries(run.checkpoints_dir),
        ]
        if stale:
            report(
                f"removed {len(stale)} unfinished temporary file(s) left by an interrupted write"
            )
        run.write_config(config)
        return
    prepare_run_dir(config, overwrite=overwrite)
    shutil.copytree(store.path / "tokenizer", run.tokenizer_dir)


@contextlib.contextmanager
def _removed_on_failure(run: RunDir, *, enabled: bool) -> Iterator[None]:
    """Delete the run directory this command created if setting it up fails (a user error, a
    model too large for memory, Ctrl-C): it holds no training yet, and the corrected command
    then needs no --overwrite."""
    try:
        yield
    except BaseException:
        if enabled:
            shutil.rmtree(run.path, ignore_errors=True)
        raise


def precision_for(training: TrainingConfig, device: torch.device, report: Report) -> TrainingConfig:
    """``training`` with a precision this device runs well: bf16 autocast on a CPU without
    fast bf16 (:func:`~transformer_mt.runtime.fast_bf16_cpu`) trains in fp32 instead (the
    quick start would otherwise run tens of times slower), with a warning."""
    if device.type != "cpu" or training.precision != "bf16" or fast_bf16_cpu():
        return training
    report(
        "warning: training.precision bf16: this CPU has no fast bf16 (it needs AVX-512 or AMX); "
        "training in fp32 instead"
    )
    return dataclasses.replace(training, precision="fp32")


def threads_per_worker() -> int | None:
    """Under torchrun, the cores shared out among this machine's workers (None: all cores)."""
    local_workers = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if local_workers <= 1:
        return None
    return max(1, (os.cpu_count() or 1) // local_workers)


def _silent(_: str) -> None:
    pass


def validation_bleu(
    model: Model, tokenizer: Tokenizer, device: torch.device, evaluation: DecodingOptions
) -> TranslationScore:
    """BLEU and chrF of greedy translations of validation sentences, for training.

    Each check decodes a copy of the live model turned into its fast inference form (the
    trainer's model itself must stay trainable); lengths limits come from ``evaluation``."""
    options = evaluation.replace(beam_size=1, n_best=1, sample=False, batch_size=128)

    def score(sources: list[str], references: list[str]) -> tuple[float, float]:
        # The training's random streams (dropout) must not see validation: exact resume.
        with torch.random.fork_rng(devices=[]):
            translator = Translator(copy.deepcopy(model), tokenizer, device, fast=True)
            hypotheses = translator.translate(sources, options)
        scores = corpus_scores(hypotheses, references)
        return scores.bleu, scores.chrf

    return score


def extra_scores(
    model: Model,
    tokenizer: Tokenizer,
    device: torch.device,
    evaluation: DecodingOptions,
    sets: dict[str, list[SentencePair]],
) -> Callable[[], dict[str, float]] | None:
    """BLEU and chrF on ``data.extra_valid``'s sets as ``valid_bleu/NAME``, ``valid_chrf/NAME``
    (checked with the validation BLEU; e.g. the old domain while fine-tuning)."""
    if not sets:
        return None
    score = validation_bleu(model, tokenizer, device, evaluation)

    def scores() -> dict[str, float]:
        record = {}
        for name, pairs in sets.items():
            bleu, chrf = score([s for s, _ in pairs], [t for _, t in pairs])
            record[f"valid_bleu/{name}"], record[f"valid_chrf/{name}"] = bleu, chrf
        return record

    return scores


def write_summary(run: RunDir, state: TrainState, best_metric: str) -> None:
    summary = {
        "steps": state.step,
        "epochs": state.epoch,
        "train_seconds": round(state.elapsed, 1),
        "target_tokens_per_s": round(state.target_tokens / max(state.elapsed, 1e-9), 1),
        "padding_fraction": round(state.padding_fraction, 4),
        "best_metric": best_metric,
        "best_step": state.best_step,
        "best_score": state.best_score,
        "stopped_early": state.stopped_early,
    }
    run.summary.write_text(json.dumps(summary, indent=2) + "\n")
