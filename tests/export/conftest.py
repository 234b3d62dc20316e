"""Trained toy runs for the export tests: the session's post-norm run and a pre-norm twin."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.toy_data import invoke, toy_config, trained_toy_run, write_config, write_corpus


@pytest.fixture(scope="session")
def pre_norm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy run's config with ``model.norm_position=pre`` (as the longer and small presets)."""
    base = tmp_path_factory.mktemp("toy-pre")
    config = toy_config(write_corpus(base / "data"), base / "run")
    config["model"]["norm_position"] = "pre"
    result = invoke(["train", str(write_config(base / "pre.yaml", config))])
    assert result.exit_code == 0, (result.stderr, result.exception)
    return base / "run"


@pytest.fixture(scope="session", params=["post", "pre"])
def toy_run_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each trained toy run in turn (post-norm -> MarianMT, pre-norm -> Pegasus)."""
    if request.param == "post":
        return trained_toy_run(tmp_path_factory).run_dir
    return request.getfixturevalue("pre_norm_run")
