"""Drift as people and programs see it: the progress hooks' drift line / JSON event, and
`status --refresh` (refresh_status) saving what changed while planrunner was away."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

from engine_scenarios import MARKET_OCO, MARKET_OCO_PATH, Harness

from planrunner.commands.status import drift_lines, refresh_status
from planrunner.progress import JsonProgress, TextProgress
from planrunner.state import DriftRecord

RECORD = DriftRecord("exit-1", "btc-test-abc123-x1", "cancelled",
                     "take-profit and stop orders of exit-1 were cancelled outside planrunner",
                     1700000000000, "re-placed protection for 0.00099 BTC as exit-1-r1")


def test_text_progress_says_what_changed_and_what_was_done() -> None:
    out = io.StringIO()
    TextProgress(out, live=False).drift(RECORD)
    assert out.getvalue() == (f"changed outside planrunner: {RECORD.change} "
                              f"({RECORD.action})\n")


def test_json_progress_emits_one_drift_event() -> None:
    out = io.StringIO()
    JsonProgress(out).drift(RECORD)
    event = json.loads(out.getvalue())
    assert event == {"event": "drift", "step": "exit-1", "client_order_id": RECORD.client_order_id,
                     "kind": "cancelled", "change": RECORD.change, "action": RECORD.action,
                     "unsafe": False}


def test_status_refresh_saves_the_drift_under_the_lock(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH, live=True)
    before = h.run()
    h.fake.cancel_by_hand("x2sl")
    h.fake.path = [Decimal(7345)]
    h.fake.advance()  # take-profit 1 fills while away: recorded, not drift
    state, path, drift = refresh_status(str(h.store.path), None, exchange=h.fake,
                                        clock=h.clock)
    assert path == h.store.path
    assert [(d.step, d.kind) for d in drift] == [("exit-2", "cancelled")]
    assert h.store.load() == state and state.serial > before.serial
    tp = h.fake.by_suffix("x1tp")
    assert state.order(tp.client_order_id).status == "FILLED"
    lines = drift_lines(state)
    assert lines[0].startswith("Changed outside planrunner")
    assert "exit-2: take-profit and stop orders of exit-2" in lines[1]
    assert not h.store.lock_path.exists() or h.store.lock_holder() is None


def test_apply_after_status_refresh_repairs_without_reporting_twice(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH, live=True)
    h.run()
    h.fake.cancel_by_hand("x1tp")
    refresh_status(str(h.store.path), None, exchange=h.fake, clock=h.clock)
    state = h.run()
    assert [(d.step, d.kind) for d in state.drift] == [("exit-1", "cancelled"),
                                                       ("exit-1", "protection")]
    assert state.step("exit-1-r1").status.value == "placed"
