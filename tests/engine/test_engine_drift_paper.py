"""Drift repair on the real PaperExchange: an OCO cancelled by hand is found, reported and
re-placed for the held quantity, with the plan's prices."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from engine_fakes import RecordingHooks
from engine_scenarios import MARKET_OCO, fresh_state

from planrunner.clock import ManualClock
from planrunner.compile import compile_plan, resolve_action
from planrunner.engine import Engine
from planrunner.exchanges.factory import open_paper_exchange
from planrunner.state import StateStore, StepStatus


def test_an_oco_cancelled_by_hand_on_paper_is_replaced(tmp_path: Path) -> None:
    clock = ManualClock()
    paper = open_paper_exchange(tmp_path / "paper" / "account.json", clock=clock, speed=0)
    state = fresh_state(MARKET_OCO)
    plan = compile_plan(MARKET_OCO, paper.market_context("BTCUSDT"), paper.capabilities(),
                        state.namespace)
    store = StateStore(tmp_path / "plan.state.json")

    def run(hooks=None):
        engine = Engine(paper, store, clock, resolve_action, hooks, poll_interval_s=1,
                        max_polls=0)
        return engine.run(plan, store.load() or state, follow=False)

    first = run()
    assert first.step("exit-1").status is StepStatus.PLACED
    paper.cancel_order_list("BTCUSDT", plan.action("exit-1").client_id)
    hooks = RecordingHooks()
    second = run(hooks)
    assert [(d.step, d.kind) for d in hooks.named("drift")] == [("exit-1", "cancelled")]
    repair = second.step("exit-1-r1")
    assert repair.status is StepStatus.PLACED
    open_ids = {o.client_order_id for o in paper.open_orders("BTCUSDT")}
    assert set(repair.leg_ids()) <= open_ids
    sent = dict(repair.request)
    original = dict(second.step("exit-1").request)
    assert Decimal(sent["quantity"]) == Decimal(original["quantity"])
    assert sent["abovePrice"] == original["abovePrice"]
    assert sent["belowStopPrice"] == original["belowStopPrice"]
