"""`planrunner apply`, `status`, `cancel` and `plan` on a damaged state file: exit 1 with
"Error: ..." and advice, no traceback, and not one byte of any file changed."""

from __future__ import annotations

import json

import pytest
from hardening_helpers import FAST, assert_clean_failure, snapshot


def _damage_truncated(raw: bytes) -> bytes:
    return raw[: len(raw) // 2]


def _damage_float(raw: bytes) -> bytes:
    data = json.loads(raw)
    data["fills"][0]["price"] = 7195.24
    return json.dumps(data).encode()


def _damage_newer(raw: bytes) -> bytes:
    data = json.loads(raw)
    data["format_version"] = 99
    return json.dumps(data).encode()


def _damage_other_plan(raw: bytes) -> bytes:
    data = json.loads(raw)
    data["plan_name"] = "someone-else"
    return json.dumps(data).encode()


def _damage_bytes(raw: bytes) -> bytes:
    return raw[:100] + b"\xff\xfe\x00" + raw[103:]


def _damage_namespace(raw: bytes) -> bytes:
    data = json.loads(raw)
    data["namespace"] = "zzzzzz"
    return json.dumps(data).encode()


DAMAGE = {"truncated": _damage_truncated, "float price": _damage_float,
          "newer version": _damage_newer, "other plan": _damage_other_plan,
          "binary garbage": _damage_bytes, "namespace": _damage_namespace,
          "empty": lambda raw: b""}

COMMANDS = {
    "apply": lambda run: ("apply", str(run.plan), "--yes", "--speed", FAST),
    "apply --format json": lambda run: ("apply", str(run.plan), "--yes", "--speed", FAST,
                                        "--format", "json"),
    "status": lambda run: ("status", str(run.plan)),
    "status --format json": lambda run: ("status", str(run.plan), "--format", "json"),
    "cancel": lambda run: ("cancel", str(run.plan)),
    "cancel --close": lambda run: ("cancel", str(run.plan), "--close"),
    "plan": lambda run: ("plan", str(run.plan)),
}


def _cases():
    for command in sorted(COMMANDS):
        for damage in sorted(DAMAGE):
            yield pytest.param(command, damage, id=f"{command}-{damage}")


@pytest.mark.parametrize(("command", "damage"), list(_cases()))
def test_damaged_state_is_a_clean_error_and_nothing_changes(run, damage: str, command: str) -> None:
    run.state.write_bytes(DAMAGE[damage](run.state.read_bytes()))
    before = snapshot(run.folder)
    result = run.cli(*COMMANDS[command](run))
    assert_clean_failure(result, "quickstart.state.json")
    after = snapshot(run.folder)
    assert after == before
    assert not result.stdout.strip() or "Traceback" not in result.stdout


def test_the_intact_run_is_accepted_by_the_same_commands(run) -> None:
    """The same commands succeed on the undamaged copy, so the failures above are the damage."""
    for command in ("apply", "status", "cancel"):
        result = run.cli(*COMMANDS[command](run))
        assert result.exit_code == 0, (command, result.output, result.stderr)


def test_state_path_that_is_a_folder_is_a_clean_error(run) -> None:
    folder = run.folder / "taken"
    folder.mkdir()
    for args in (("apply", str(run.plan), "--yes", "--state", str(folder)),
                 ("status", "--state", str(folder)),
                 ("cancel", str(run.plan), "--state", str(folder))):
        assert_clean_failure(run.cli(*args), "taken")


def test_lock_path_taken_by_a_folder_is_a_clean_error(run) -> None:
    run.lock.unlink()
    run.lock.mkdir()
    before = snapshot(run.folder)
    for args in (("apply", str(run.plan), "--yes", "--speed", FAST),
                 ("cancel", str(run.plan)), ("force-unlock", str(run.plan))):
        assert_clean_failure(run.cli(*args), "quickstart.state.json.lock", "move that folder away")
    assert snapshot(run.folder) == before
