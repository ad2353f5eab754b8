"""The state file: exact round trip, serial, atomic save, backup, refusals that leave the file
untouched, file modes."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from decimal import Decimal
from pathlib import Path

import pytest

from planrunner.errors import StateCorrupt, StateError
from planrunner.state import (FillRecord, LegIds, OrderRecord, StateStore, Step, StepStatus,
                              default_state_path, namespace_for, new_state)

D = Decimal


def _state(lineage: str = "11111111-2222-4333-8444-555555555555"):
    state = new_state(plan_name="btc-breakout", plan_fingerprint="f" * 64, exchange="paper",
                      symbol="BTCUSDT", lineage=lineage)
    step = Step(id="entry", kind="place_order", status=StepStatus.PLACED, client_id="c-e",
                order_id=7, legs=(LegIds("entry", "c-e", 7),), endpoint="POST /api/v3/order",
                request=(("symbol", "BTCUSDT"), ("quantity", "0.00100000")),
                filled_qty=D("0.00100000"), avg_price=D("7195.24000000"), quote_qty=D("7.19524"),
                fees=(("BTC", D("0.000001")),), sent_ms=1, placed_ms=2, attempts=1)
    order = OrderRecord(client_order_id="c-e", order_id=7, side="BUY", type="MARKET",
                        status="FILLED", orig_qty=D("0.001"), executed_qty=D("0.001"),
                        cumulative_quote_qty=D("7.19524"), trade_ids=(3,))
    fill = FillRecord("c-e", 3, "BUY", D("7195.24"), D("0.001"), D("0.000001"), "BTC", 5)
    state = state.with_step(step).with_order(order).with_fills((fill,))
    return dataclasses.replace(state, realised_pnl=D("-0.00719524"))


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "plan.state.json")


def test_round_trip_keeps_every_decimal_exact(store: StateStore) -> None:
    saved = store.save(_state())
    loaded = store.load()
    assert loaded == saved
    assert loaded.steps[0].avg_price.as_tuple() == D("7195.24000000").as_tuple()
    assert loaded.fills[0].commission == D("0.000001")


def test_cost_basis_is_written_only_when_set_and_round_trips(store: StateStore) -> None:
    store.save(_state())
    assert "cost_basis" not in json.loads(store.path.read_text("utf-8"))  # older files unchanged
    saved = store.save(dataclasses.replace(store.load(), cost_basis=D("7000.50")))
    assert json.loads(store.path.read_text("utf-8"))["cost_basis"] == "7000.50"
    assert store.load() == saved and store.load().cost_basis == D("7000.50")


def test_file_is_sorted_indented_json_with_decimal_strings(store: StateStore) -> None:
    store.save(_state())
    text = store.path.read_text("utf-8")
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["format_version"] == 1
    assert data["steps"][0]["avg_price"] == "7195.24000000"
    assert data["namespace"] == namespace_for(data["lineage"])
    assert "\n  " in text
    assert not any(isinstance(v, float) for v in _walk(data))


def _walk(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)
    else:
        yield value


def test_serial_bumps_only_when_content_changes(store: StateStore) -> None:
    first = store.save(_state())
    again = store.save(first)
    changed = store.save(again.with_step(Step(id="exit-1", kind="place_order_list")))
    assert (first.serial, again.serial, changed.serial) == (1, 1, 2)
    assert store.load().serial == 2


def test_namespace_is_six_lowercase_base32_chars_from_the_lineage() -> None:
    a, b = new_state(plan_name="p", plan_fingerprint="x", exchange="paper", symbol="BTCUSDT"), \
        new_state(plan_name="p", plan_fingerprint="x", exchange="paper", symbol="BTCUSDT")
    assert a.lineage != b.lineage and a.namespace != b.namespace
    assert len(a.namespace) == 6 and set(a.namespace) <= set("abcdefghijklmnopqrstuvwxyz234567")
    assert namespace_for(a.lineage) == a.namespace


def test_previous_version_is_kept_as_backup(store: StateStore) -> None:
    first = store.save(_state())
    before = store.path.read_bytes()
    store.save(first.with_step(Step(id="exit-1", kind="place_order_list")))
    assert store.backup_path.read_bytes() == before
    assert store.load().step("exit-1") is not None


class Crash(BaseException):
    pass


def test_crash_between_temp_write_and_replace_leaves_old_file_intact(tmp_path: Path) -> None:
    path = tmp_path / "plan.state.json"
    first = StateStore(path).save(_state())
    before = path.read_bytes()

    def crashing_replace(src: Path, dst: Path) -> None:
        if Path(dst) == path:
            raise Crash()
        os.replace(src, dst)

    with pytest.raises(Crash):
        StateStore(path, replace=crashing_replace).save(
            first.with_step(Step(id="exit-1", kind="place_order_list")))
    assert path.read_bytes() == before
    assert StateStore(path).load() == first
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_save_fsyncs_file_and_folder(tmp_path: Path) -> None:
    synced: list[int] = []

    def fsync(fd: int) -> None:
        synced.append(os.fstat(fd).st_mode)
        os.fsync(fd)

    StateStore(tmp_path / "s.json", fsync=fsync).save(_state())
    assert any(stat.S_ISREG(m) for m in synced) and any(stat.S_ISDIR(m) for m in synced)


def test_files_are_private(store: StateStore) -> None:
    old = os.umask(0)
    try:
        first = store.save(_state())
        store.save(first.with_step(Step(id="exit-1", kind="place_order_list")))
        with store.lock("apply"):
            modes = {p: stat.S_IMODE(p.stat().st_mode)
                     for p in (store.path, store.backup_path, store.lock_path)}
    finally:
        os.umask(old)
    assert set(modes.values()) == {0o600}


def test_absent_file_loads_as_none(store: StateStore) -> None:
    assert store.load() is None


def _valid_text() -> str:
    state = _state()
    from planrunner.state import render_state
    return render_state(state).decode("utf-8")


BAD_FILES = {
    "empty": ("", "empty"),
    "truncated": (None, "not a valid state file"),
    "not json": ("hello: world\n", "not a valid state file"),
    "not an object": ("[1, 2]\n", "not a planrunner state file"),
    "newer format": (_valid_text().replace('"format_version": 1', '"format_version": 2'),
                     "newer planrunner"),
    "float price": (_valid_text().replace('"7195.24000000"', "7195.24"), "not a valid state"),
    "missing key": (_valid_text().replace('"plan_name": "btc-breakout",', ""),
                    "state.plan_name is missing"),
    "bad status": (_valid_text().replace('"status": "placed"', '"status": "flying"'),
                   "unknown value 'flying'"),
    "bad decimal": (_valid_text().replace('"quote_qty": "7.19524"', '"quote_qty": "abc"'),
                    "not a decimal"),
    "wrong namespace": (_valid_text().replace(f'"namespace": "{_state().namespace}"',
                                              '"namespace": "aaaaaa"'), "namespace"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_untrustworthy_file_is_refused_and_never_overwritten(store: StateStore, name: str) -> None:
    text, expected = BAD_FILES[name]
    if text is None:
        text = _valid_text()[: len(_valid_text()) // 2]
    store.path.write_text(text, "utf-8")
    before = store.path.read_bytes()
    with pytest.raises(StateCorrupt) as caught:
        store.load()
    assert expected in str(caught.value)
    assert "Nothing was changed" in str(caught.value)
    with pytest.raises(StateCorrupt):
        store.save(_state())
    assert store.path.read_bytes() == before
    assert not store.backup_path.exists()


def test_state_of_another_plan_is_refused(store: StateStore) -> None:
    store.save(_state())
    before = store.path.read_bytes()
    with pytest.raises(StateCorrupt, match="belongs to plan 'btc-breakout', not 'eth-dip'"):
        store.load(plan_name="eth-dip")
    with pytest.raises(StateError, match="different version of plan"):
        store.load(plan_name="btc-breakout", fingerprint="0" * 64)
    assert store.load(plan_name="btc-breakout", fingerprint="f" * 64) is not None
    assert store.path.read_bytes() == before


def test_another_lineage_or_a_stale_serial_is_not_written_over(store: StateStore) -> None:
    first = store.save(_state())
    second = store.save(first.with_step(Step(id="exit-1", kind="place_order_list")))
    before = store.path.read_bytes()
    with pytest.raises(StateError, match="another state"):
        store.save(_state(lineage="99999999-2222-4333-8444-555555555555"))
    with pytest.raises(StateError, match="changed since it was read"):
        store.save(first.with_step(Step(id="exit-2", kind="place_order_list")))
    assert store.path.read_bytes() == before
    assert second.serial == 2


def test_default_path_sits_beside_the_plan(tmp_path: Path) -> None:
    assert default_state_path(tmp_path / "btc.yaml") == tmp_path / "btc.state.json"
    assert default_state_path(tmp_path / "btc.plan") == tmp_path / "btc.plan.state.json"


def test_directory_as_state_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="is a directory"):
        StateStore(tmp_path).load()


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="does not exist"):
        StateStore(tmp_path / "nowhere" / "s.json").save(_state())
