"""One real paper apply of the quick start per test session; tests copy it before touching it."""

from __future__ import annotations

import pytest
from hardening_helpers import PaperRun, apply_quickstart


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> PaperRun:
    return apply_quickstart(tmp_path_factory.mktemp("quickstart") / "run")


@pytest.fixture
def run(finished_run: PaperRun, tmp_path) -> PaperRun:
    """A private copy of the finished run, free to damage."""
    return finished_run.copy_to(tmp_path / "run")
