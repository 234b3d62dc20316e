"""transformer-mt prepare, and train on the token store: reuse, staleness, damage, kill -9."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cli.toy_data import assert_user_error, invoke, toy_pairs
from transformer_mt.data.store import MANIFEST, TokenStore
from transformer_mt.data.tokenizer import Tokenizer


def test_prepare_then_train_and_resume_tokenize_nothing(
    make_config: Callable[..., Path], corpus: dict[str, Path], tmp_path: Path
) -> None:
    compressed = tmp_path / "train.tsv.gz"
    compressed.write_bytes(gzip.compress(corpus["train"].read_bytes()))
    store = tmp_path / "store"
    config = make_config(
        data={"train": str(compressed), "store": str(store)}, training={"max_steps": 4}
    )

    prepared = invoke(["prepare", str(config)])
    assert prepared.exit_code == 0, (prepared.stderr, prepared.exception)
    assert prepared.stdout.strip() == str(store)
    assert "cleaning: 300 pairs read, 300 kept" in prepared.stderr
    assert (store / MANIFEST).is_file()

    trained = invoke(["train", str(config)])
    assert trained.exit_code == 0, (trained.stderr, trained.exception)
    assert f"data: reusing the token store {store} (300 training pairs" in trained.stderr
    assert "nothing to tokenize" in trained.stderr
    assert "prepare:" not in trained.stderr

    resumed = invoke(["train", "--resume", str(tmp_path / "run"), "--set", "training.max_steps=6"])
    assert resumed.exit_code == 0, (resumed.stderr, resumed.exception)
    assert "nothing to tokenize" in resumed.stderr and "prepare:" not in resumed.stderr


def test_changed_inputs_are_prepared_again(
    make_config: Callable[..., Path], corpus: dict[str, Path], tmp_path: Path
) -> None:
    config = make_config(data={"store": str(tmp_path / "store")}, training={"max_steps": 1})
    assert invoke(["prepare", str(config)]).exit_code == 0
    corpus["train"].write_text(
        "".join(f"{s}\t{t}\n" for s, t in toy_pairs(250, seed=9)), encoding="utf-8"
    )
    trained = invoke(["train", str(config)])
    assert trained.exit_code == 0, (trained.stderr, trained.exception)
    assert "(the inputs or settings changed)" in trained.stderr
    assert "data: 250 train, 30 valid pairs" in trained.stderr


def test_a_truncated_store_is_one_error_that_says_to_prepare_again(
    make_config: Callable[..., Path], tmp_path: Path
) -> None:
    store = tmp_path / "store"
    config = make_config(data={"store": str(store)})
    assert invoke(["prepare", str(config)]).exit_code == 0
    ids = store / "train.source.ids"
    ids.write_bytes(ids.read_bytes()[:-10])

    result = invoke(["train", str(config)])

    assert_user_error(result, "the token store is damaged", "re-run `transformer-mt prepare`")
    assert not (tmp_path / "run").exists()
    assert invoke(["prepare", str(config)]).exit_code == 0  # which mends it
    assert invoke(["train", str(config), "--set", "training.max_steps=1"]).exit_code == 0


def test_kill_9_during_prepare_leaves_no_store_a_train_would_use(
    make_config: Callable[..., Path], corpus: dict[str, Path], tmp_path: Path
) -> None:
    big = tmp_path / "big.tsv"
    big.write_text("".join(f"{s}\t{t}\n" for s, t in toy_pairs(300_000, seed=4)), encoding="utf-8")
    store = tmp_path / "store"
    config = make_config(data={"train": str(big), "store": str(store)})
    process = subprocess.Popen(
        [sys.executable, "-m", "transformer_mt", "prepare", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("store.tmp-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # well inside the preparation (it takes several seconds)
    assert process.poll() is None, process.stderr.read() if process.stderr else ""
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    assert list(tmp_path.glob("store.tmp-*")), "the kill should have left the temporary"
    assert not (store / MANIFEST).exists()
    # A later train (here on the small corpus, one step) prepares afresh and removes the leftover.
    small = make_config(
        data={"train": str(corpus["train"]), "store": str(store)}, training={"max_steps": 1}
    )
    result = invoke(["train", str(small)])
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert f"data: prepared the token store {store} (new)" in result.stderr
    assert not list(tmp_path.glob("store.tmp-*"))


def test_resume_with_a_store_of_another_tokenizer_uses_the_runs(
    make_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = make_config(
        data={"store": str(tmp_path / "store")},
        training={"max_steps": 2, "checkpoint_every": 2},
    )
    assert invoke(["train", str(config)]).exit_code == 0
    # The run's tokenizer is no longer the one the store was prepared with (as after a cleared
    # cache with a tokenizer trained differently, or a run from before token stores).
    run_tokenizer = tmp_path / "run" / "tokenizer"
    shutil.rmtree(run_tokenizer)
    Tokenizer.train(toy_pairs(300, seed=5), run_tokenizer, vocab_size=360, report=lambda _: None)

    resumed = invoke(["train", "--resume", str(tmp_path / "run"), "--set", "training.max_steps=3"])

    assert resumed.exit_code == 0, (resumed.stderr, resumed.exception)
    assert "the token store's tokenizer is not the run's; preparing with the run's" in (
        resumed.stderr
    )
    tokenized = TokenStore.open(tmp_path / "store")
    assert Tokenizer.load(tokenized.path / "tokenizer") == Tokenizer.load(run_tokenizer)
