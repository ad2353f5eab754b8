"""The paper account file and saved plans (`plan --out`), damaged the same ways as state files:
every load refuses with a planrunner error that says what to do, or loads; never another
exception, and the file is never rewritten by the refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hardening_helpers import FAST, assert_clean_failure, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planrunner.clock import ManualClock
from planrunner.errors import PlanrunnerError, StateError
from planrunner.exchanges.factory import open_paper_exchange
from planrunner.savedplan import load_saved_plan

FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
ACCOUNT_HINTS = ("move it aside", "move the account aside", "start a new")
SAVED_HINTS = ("planrunner plan", "plan --out", "upgrade")


def _mutate(raw: bytes, data: st.DataObject) -> bytes:
    out = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(out) - 1))
        if data.draw(st.booleans()):
            out[at] = data.draw(st.integers(0, 255))
        else:
            del out[at:at + data.draw(st.integers(1, 64))]
    return bytes(out)


# --- paper account ------------------------------------------------------------------------------

def _open_account(path: Path) -> bool:
    """True when the account opened; False when refused with a StateError that gives advice."""
    before = path.read_bytes()
    try:
        open_paper_exchange(path, clock=ManualClock())
    except StateError as exc:
        assert str(path) in str(exc) and any(h in str(exc) for h in ACCOUNT_HINTS), str(exc)
        assert path.read_bytes() == before
        return False
    return True


@pytest.fixture(scope="module")
def account_bytes(finished_run) -> bytes:
    return finished_run.account.read_bytes()


def test_account_truncations_are_refused(account_bytes: bytes, tmp_path: Path) -> None:
    path = tmp_path / "account.json"
    end = len(account_bytes.rstrip())
    for offset in range(0, end, max(1, end // 150)):
        path.write_bytes(account_bytes[:offset])
        assert not _open_account(path), offset


@FUZZ
@given(data=st.data())
def test_account_byte_edits_never_escape(account_bytes: bytes, tmp_path: Path, data) -> None:
    path = tmp_path / "account.json"
    path.write_bytes(_mutate(account_bytes, data))
    _open_account(path)


def _account_edit(change):
    def apply(raw: bytes) -> bytes:
        doc = json.loads(raw)
        change(doc)
        return json.dumps(doc).encode()
    return apply


def _set_path(*path_and_value):
    *path, value = path_and_value

    def change(doc):
        for key in path[:-1]:
            doc = doc[key]
        doc[path[-1]] = value
    return change


ACCOUNT_EDITS = {
    "newer format": _set_path("format_version", 2),
    "no format": lambda d: d.pop("format_version"),
    "engine is a list": _set_path("engine", []),
    "engine emptied": _set_path("engine", {}),
    "feed spec emptied": _set_path("feed_spec", {}),
    "feed spec symbols is a list": _set_path("feed_spec", "symbols", []),
    "feed spec start is text": _set_path("feed_spec", "start_ms", "soon"),
    "feed position emptied": _set_path("feed_position", {}),
    "document is a list": lambda d: (d.clear(), d.update({"x": [1]})),
}


@pytest.mark.parametrize("edit", sorted(ACCOUNT_EDITS))
def test_account_value_edits_are_refused(account_bytes: bytes, tmp_path: Path, edit: str) -> None:
    path = tmp_path / "account.json"
    path.write_bytes(_account_edit(ACCOUNT_EDITS[edit])(account_bytes))
    assert not _open_account(path)


@pytest.mark.parametrize("command", ["apply", "plan", "cancel"])
def test_commands_on_a_damaged_account_fail_cleanly(run, command: str) -> None:
    run.account.write_bytes(run.account.read_bytes()[:200])
    if command == "apply":  # else apply stops at "plan complete" before opening the account
        run.state.unlink()
        run.backup.unlink()
    before = snapshot(run.folder)
    args = {"apply": ("apply", str(run.plan), "--yes", "--speed", FAST),
            "plan": ("plan", str(run.plan)), "cancel": ("cancel", str(run.plan))}[command]
    assert_clean_failure(run.cli(*args), "account.json")
    assert snapshot(run.folder) == before


# --- saved plans --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved_bytes(finished_run, tmp_path_factory) -> bytes:
    out = tmp_path_factory.mktemp("saved") / "saved.json"
    result = finished_run.cli("plan", str(finished_run.plan), "--out", str(out))
    assert result.exit_code == 0, result.stderr
    return out.read_bytes()


def _load_saved(path: Path) -> bool:
    before = path.read_bytes()
    try:
        load_saved_plan(str(path))
    except PlanrunnerError as exc:
        assert str(path) in str(exc) and any(h in str(exc) for h in SAVED_HINTS), str(exc)
        assert path.read_bytes() == before
        return False
    return True


def test_saved_plan_truncations_are_refused(saved_bytes: bytes, tmp_path: Path) -> None:
    path = tmp_path / "saved.json"
    end = len(saved_bytes.rstrip())
    for offset in range(0, end, max(1, end // 200)):
        path.write_bytes(saved_bytes[:offset])
        assert not _load_saved(path), offset


@FUZZ
@given(data=st.data())
def test_saved_plan_byte_edits_never_escape(saved_bytes: bytes, tmp_path: Path, data) -> None:
    path = tmp_path / "saved.json"
    path.write_bytes(_mutate(saved_bytes, data))
    _load_saved(path)


SAVED_EDITS = {
    "newer version": _set_path("format_version", 9),
    "version zero": _set_path("format_version", 0),
    "not ours": _set_path("format", "terraform"),
    "serial is text": _set_path("state_serial", "11"),
    "lineage is a number": _set_path("state_lineage", 5),
    "plan is a list": _set_path("plan", []),
    "fingerprint differs from payload": _set_path("fingerprint", "0" * 64),
    "payload header missing": _set_path("plan", {}),
    "missing namespace": lambda d: d.pop("namespace"),
}


@pytest.mark.parametrize("edit", sorted(SAVED_EDITS))
def test_saved_plan_value_edits_are_refused(saved_bytes: bytes, tmp_path: Path, edit: str) -> None:
    path = tmp_path / "saved.json"
    path.write_bytes(_account_edit(SAVED_EDITS[edit])(saved_bytes))
    assert not _load_saved(path)


def test_deeply_nested_saved_plan_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "saved.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    assert not _load_saved(path)


def test_deeply_nested_account_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "account.json"
    path.write_bytes(b'{"format_version": 1, "engine": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert not _open_account(path)


@pytest.mark.parametrize("damage", ["truncated", "edited serial"])
def test_apply_of_a_damaged_saved_plan_fails_cleanly(run, saved_bytes: bytes, damage: str) -> None:
    saved = run.folder / "saved.json"
    raw = saved_bytes[:300] if damage == "truncated" else \
        _account_edit(_set_path("state_serial", "x"))(saved_bytes)
    saved.write_bytes(raw)
    before = snapshot(run.folder)
    assert_clean_failure(run.cli("apply", str(saved), "--speed", FAST), "saved.json")
    assert snapshot(run.folder) == before
