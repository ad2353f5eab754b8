"""Every test runs hermetic: its own paper account folder, whatever a local `planrunner apply`
(README's quick start) left in the working directory. Tests that need a particular folder set
PLANRUNNER_PAPER_DIR themselves; monkeypatch restores it afterwards."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_paper_account(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("PLANRUNNER_PAPER_DIR", str(tmp_path_factory.mktemp("paper-account")))
