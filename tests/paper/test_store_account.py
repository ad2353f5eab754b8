"""The paper account file: location, atomic save, 0600, and refusal of corrupt files."""

import json
import os
import stat
from decimal import Decimal

import pytest

from planrunner.errors import StateCorrupt
from planrunner.exchanges.paper.store import (AccountRecord, PaperStore, default_account_path)

RECORD = AccountRecord(engine={"balances": {"USDT": "10000.5"}}, feed_position={"market_time_ms": 1},
                       feed_spec={"start_ms": 0, "symbols": {}})


def test_default_location_and_env_override(tmp_path):
    assert default_account_path(cwd=tmp_path, env={}) == tmp_path / ".paper" / "account.json"
    custom = tmp_path / "elsewhere"
    env = {"PLANRUNNER_PAPER_DIR": str(custom)}
    assert default_account_path(cwd=tmp_path, env=env) == custom / "account.json"


def test_absent_account_loads_as_none(tmp_path):
    assert PaperStore(tmp_path / "a" / "account.json").load() is None


def test_round_trip_creates_folder_and_0600_file(tmp_path):
    store = PaperStore(tmp_path / "p" / "account.json")
    store.save(RECORD)
    assert store.load() == RECORD
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert os.listdir(store.path.parent) == ["account.json"]
    assert json.loads(store.path.read_text())["format_version"] == 1


def test_crash_before_rename_leaves_previous_file_intact(tmp_path):
    path = tmp_path / "account.json"
    PaperStore(path).save(RECORD)
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("power cut")

    newer = AccountRecord({"balances": {"USDT": "1"}}, {"market_time_ms": 2}, {})
    with pytest.raises(OSError, match="power cut"):
        PaperStore(path, replace=crash).save(newer)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["account.json"]


@pytest.mark.parametrize("content, reason", [
    (b'{"format_version": 1, "engine": {"balan', "not valid JSON"),
    (b"", "not valid JSON"),
    (b"\xff\xfe garbage", "not valid JSON"),
    (b"[1, 2]", "does not hold a JSON object"),
    (b'{"format_version": 9, "engine": {}, "feed_position": {}, "feed_spec": {}}', "format_version is 9"),
    (b'{"format_version": 1, "engine": {}, "feed_spec": {}}', "lacks feed_position"),
])
def test_corrupt_or_truncated_file_is_refused_and_untouched(tmp_path, content, reason):
    path = tmp_path / "account.json"
    path.write_bytes(content)
    with pytest.raises(StateCorrupt) as info:
        PaperStore(path).load()
    message = str(info.value)
    assert reason in message and str(path) in message
    assert "move it aside" in message
    assert path.read_bytes() == content


def test_numbers_are_read_back_exactly(tmp_path):
    path = tmp_path / "account.json"
    path.write_text('{"format_version": 1, "engine": {"x": 0.1}, "feed_position": {}, "feed_spec": {}}')
    record = PaperStore(path).load()
    assert record.engine["x"] == Decimal("0.1") and isinstance(record.engine["x"], Decimal)
