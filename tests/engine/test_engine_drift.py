"""Drift: changes on the exchange that planrunner did not cause are recorded, reported through
the hooks and repaired when that is safe; a fill while planrunner was away is only recorded."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from engine_fakes import RecordingHooks
from engine_scenarios import MARKET_OCO, MARKET_OCO_PATH, Harness

from planrunner.drift import refresh_state
from planrunner.errors import PlanrunnerError
from planrunner.state import StepStatus

D = Decimal


def _armed(tmp_path: Path) -> Harness:
    """Entry filled at market, both OCOs resting on a live exchange; planrunner has left."""
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH, live=True)
    state = h.run()
    assert {s.id: s.status for s in state.steps}["exit-1"] is StepStatus.PLACED
    return h


def _params(h: Harness, suffix: str) -> dict[str, str]:
    return next(dict(p) for _, p in h.fake.requests
                if dict(p).get("listClientOrderId", "").endswith(suffix))


def test_a_stop_cancelled_by_hand_is_replaced_for_the_held_quantity(tmp_path: Path) -> None:
    h = _armed(tmp_path)
    h.fake.cancel_by_hand("x1sl")
    hooks = RecordingHooks()
    state = h.run(hooks=hooks)
    drift = [d for d in state.drift if d.kind == "cancelled"]
    list_id = h.action_plan.action("exit-1").client_id
    assert [(d.step, d.client_order_id) for d in drift] == [("exit-1", list_id)]
    assert "take-profit and stop orders of exit-1" in drift[0].change
    assert "cancelled outside planrunner" in drift[0].change
    assert hooks.named("drift") == drift
    original, repair = _params(h, "-x1"), _params(h, "-x1r1")
    same = ("side", "quantity", "abovePrice", "belowStopPrice", "belowPrice")
    assert {k: repair[k] for k in same} == {k: original[k] for k in same}
    assert state.step("exit-1-r1").status is StepStatus.PLACED
    assert any("re-placed protection" in d.action for d in state.drift)
    assert any(n.startswith("PROTECTION exit-1") for n in hooks.named("note"))
    # nothing more to do: a third run sends nothing
    sent = list(h.fake.accepted)
    h.run()
    assert h.fake.accepted == sent


def test_a_repaired_plan_follows_the_market_to_its_end(tmp_path: Path) -> None:
    h = _armed(tmp_path)
    h.fake.cancel_by_hand("x2tp")
    h.run()
    state = h.run(follow=True)
    assert {s.status for s in state.steps} == {StepStatus.DONE}
    assert h.fake.by_suffix("x2r1tp").status == "FILLED"
    assert state.realised_pnl is not None and state.realised_pnl > 0


def test_a_vanished_order_stops_when_the_balance_cannot_be_checked(tmp_path: Path) -> None:
    h = _armed(tmp_path)
    h.fake.forget("x1sl")
    h.fake.forget("x1tp")
    sent = list(h.fake.accepted)
    with pytest.raises(PlanrunnerError, match="cancel --close"):
        h.run()
    state = h.store.load()
    assert {d.kind for d in state.drift} == {"vanished", "protection"}
    assert [d.unsafe for d in state.drift if d.kind == "protection"] == [True]
    with pytest.raises(PlanrunnerError, match="no longer exists|vanished"):
        h.run()  # every later run stops the same way, without acting
    assert h.fake.accepted == sent


def test_a_vanished_order_is_replaced_for_what_the_balance_still_holds(tmp_path: Path) -> None:
    h = _armed(tmp_path)
    h.fake.forget("x1sl")
    h.fake.forget("x1tp")
    h.fake.balance = {"BTC": D("0.0008"), "USDT": D("1000")}
    state = h.run()
    assert _params(h, "-x1r1")["quantity"] == "0.0008"
    assert state.step("exit-1-r1").status is StepStatus.PLACED


def test_a_fill_while_planrunner_was_away_is_recorded_not_drift(tmp_path: Path) -> None:
    h = _armed(tmp_path)
    h.fake.path = [D("7345")]
    h.fake.advance()  # take-profit 1 fills, its stop expires with it
    hooks = RecordingHooks()
    state = h.run(hooks=hooks)
    assert state.drift == ()
    assert hooks.named("drift") == []
    assert state.step("exit-1").status is StepStatus.DONE
    tp = h.fake.by_suffix("x1tp")
    assert state.order(tp.client_order_id).executed_qty == tp.executed
    assert "exit-1-r1" not in {s.id for s in state.steps}


def test_refresh_state_reports_drift_without_writing(tmp_path: Path) -> None:
    h = _armed(tmp_path)
    h.fake.cancel_by_hand("x2sl")
    saved = h.store.load()
    state, drift = refresh_state(saved, h.fake, clock=h.clock)
    assert [(d.step, d.kind) for d in drift] == [("exit-2", "cancelled")]
    assert state.drift == drift
    legs = state.step("exit-2").leg_ids()
    assert {state.order(cid).status for cid in legs} == {"CANCELED"}
    assert state.step("exit-2").status is StepStatus.PLACED  # the engine settles it
    assert h.store.load() == saved
    # apply then repairs what the refresh reported
    repaired = h.run()
    assert repaired.step("exit-2-r1").status is StepStatus.PLACED


def test_a_hand_cancelled_order_renamed_by_the_exchange_is_cancelled_not_vanished(
        tmp_path: Path) -> None:
    """Binance renames a cancelled order's client id: the look-up goes by the persisted order
    id, so the order is seen CANCELED (drift "cancelled"), never "vanished"."""
    h = _armed(tmp_path)
    h.fake.rename_on_cancel = True
    h.fake.cancel_by_hand("x1sl")
    assert not any(o.client_order_id.endswith(("x1sl", "x1tp")) for o in h.fake.orders)
    state = h.run(hooks=RecordingHooks())
    kinds = {d.kind for d in state.drift if d.step == "exit-1"}
    assert "cancelled" in kinds and "vanished" not in kinds
    legs = state.step("exit-1").leg_ids()
    assert {state.order(cid).status for cid in legs} == {"CANCELED"}
    assert any(order_id is not None for _, order_id in h.fake.queries)
    assert state.step("exit-1-r1").status is StepStatus.PLACED  # repaired as a cancel is
