"""Files that may hold account details are created 0600 whatever the umask: the state file, its
backup, its lock, the paper account and a saved plan (`plan --out`)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hardening_helpers import apply_quickstart


@pytest.fixture(params=[0o000, 0o022, 0o077], ids=["umask-000", "umask-022", "umask-077"])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_state_backup_lock_account_and_saved_plan_are_0600(tmp_path: Path, umask: int) -> None:
    run = apply_quickstart(tmp_path / "run")
    saved = run.folder / "saved.json"
    result = run.cli("plan", str(run.plan), "--out", str(saved))
    assert result.exit_code == 0, result.stderr
    files = {"state": run.state, "backup": run.backup, "lock": run.lock,
             "paper account": run.account, "saved plan": saved}
    modes = {name: oct(_mode(path)) for name, path in files.items()}
    assert modes == {name: oct(0o600) for name in files}
    assert _mode(run.paper_dir) & 0o077 == 0, oct(_mode(run.paper_dir))


def test_rewrites_keep_0600_even_over_a_widened_file(run, umask: int) -> None:
    """A state file someone chmod-ed 0644 is replaced by a 0600 one at the next save."""
    for path in (run.state, run.backup, run.account):
        path.chmod(0o644)
    run.state.unlink()  # a fresh apply: the state is written again (twice, so a backup too)
    run.backup.unlink()
    result = run.cli("apply", str(run.plan), "--yes", "--speed", "1000000")
    assert result.exit_code == 0, result.stderr
    assert {p.name: oct(_mode(p)) for p in (run.state, run.backup, run.account)} == {
        p.name: oct(0o600) for p in (run.state, run.backup, run.account)}
