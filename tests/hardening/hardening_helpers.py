"""Shared pieces of the hardening tests: a real paper apply (state, backup, lock and paper account
files written by the real engine), CLI invocation with a private paper folder, and the checks
that a failure was clean (exit 1, "Error: ...", no traceback)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result

from planrunner.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "plans" / "examples"
QUICKSTART = EXAMPLES / "quickstart.yaml"
FAST = "1000000"  # paper market seconds per wall second: the quick start ends within a second


@dataclass(frozen=True)
class PaperRun:
    """One folder holding a plan, its state files and its paper account after a real apply."""

    folder: Path

    @property
    def plan(self) -> Path:
        return self.folder / "quickstart.yaml"

    @property
    def state(self) -> Path:
        return self.folder / "quickstart.state.json"

    @property
    def backup(self) -> Path:
        return self.folder / "quickstart.state.json.backup"

    @property
    def lock(self) -> Path:
        return self.folder / "quickstart.state.json.lock"

    @property
    def paper_dir(self) -> Path:
        return self.folder / "paper"

    @property
    def account(self) -> Path:
        return self.paper_dir / "account.json"

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """Run planrunner in-process with this run's paper folder."""
        full_env = {"PLANRUNNER_PAPER_DIR": str(self.paper_dir), "NO_COLOR": "1", **(env or {})}
        return CliRunner().invoke(main, list(args), env=full_env)

    def copy_to(self, folder: Path) -> PaperRun:
        shutil.copytree(self.folder, folder)
        return PaperRun(folder)


def apply_quickstart(folder: Path) -> PaperRun:
    """A real `planrunner apply --yes` of the quick start on paper, run to completion."""
    folder.mkdir(parents=True, exist_ok=True)
    run = PaperRun(folder)
    shutil.copy(QUICKSTART, run.plan)
    result = run.cli("apply", str(run.plan), "--yes", "--speed", FAST)
    assert result.exit_code == 0, result.output + result.stderr
    assert run.state.is_file() and run.account.is_file()
    return run


def assert_clean_failure(result: Result, *fragments: str) -> None:
    """Exit 1, one "Error: ..." on stderr, no traceback and no stray exception."""
    assert result.exit_code == 1, (result.output, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output + result.stderr
    assert "Error: " in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes: to prove a failed command changed nothing."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}
