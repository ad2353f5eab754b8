"""Engine happy paths, return policy, rejections, emulated cancels and hooks."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import pytest
from engine_fakes import FakeExchange, RecordingHooks
from engine_scenarios import (LIMIT_EXPIRING, LIMIT_OPOCO, LIMIT_OPOCO_PATH, MARKET_OCO,
                              MARKET_OCO_PATH, Harness, fresh_state)

from planrunner.errors import ExchangeError, InsufficientFunds, StateError
from planrunner.state import StepStatus

D = Decimal


def _statuses(state) -> dict[str, str]:
    return {s.id: s.status.value for s in state.steps}


def _net_entry(fake) -> Decimal:
    entry = fake.orders[0]
    return entry.qty - sum(f.commission for f in entry.fills if f.commission_asset == "BTC")


def test_market_entry_then_two_ocos_runs_to_the_end_on_paper(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    hooks = RecordingHooks()
    state = h.run(hooks=hooks)
    assert set(_statuses(state).values()) == {"done"}
    ids = [a.client_id for a in h.action_plan.actions if a.client_id]
    legs = [leg.client_order_id for a in h.action_plan.actions for leg in a.legs]
    assert sorted(h.fake.accepted) == sorted(set(ids + legs))
    # exits are sized on what the entry really delivered (net of the BTC commission)
    exit_qty = sum(D(dict(p)["quantity"]) for e, p in h.fake.requests if e.endswith("/oco"))
    assert _net_entry(h.fake) - D("0.00001") * 2 < exit_qty <= _net_entry(h.fake)
    assert hooks.named("order_placed") == ["entry", "exit-1", "exit-2"]
    assert hooks.named("step_started") == ["entry", "await-entry", "exit-1", "exit-2"]
    assert sorted(hooks.named("step_done")) == sorted(_statuses(state))
    assert hooks.named("plan_complete") == [state.serial]
    assert h.store.load() == state


def test_realised_pnl_matches_the_exchange_fills(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    state = h.run()
    fills = [(o.side, f) for o in h.fake.orders for f in o.fills]
    bought = sum(f.qty for side, f in fills if side == "BUY")
    cost = sum(f.qty * f.price for side, f in fills if side == "BUY")
    sold = sum(f.qty for side, f in fills if side == "SELL")
    proceeds = sum(f.qty * f.price for side, f in fills if side == "SELL")
    fees = sum(f.commission * (f.price if f.commission_asset == "BTC" else 1) for _, f in fills)
    expected = proceeds - cost / bought * sold - fees
    assert abs(state.realised_pnl - expected) < D("1e-12")
    assert state.realised_pnl > 0
    # the exits' fills, which a query does not carry, are the exchange's own (ids, commissions)
    real = {(f.trade_id, f.commission, f.commission_asset) for _, f in fills}
    assert {(f.trade_id, f.commission, f.commission_asset) for f in state.fills} == real
    assert len(state.fills) == len(fills)  # each once, though the exits were queried repeatedly


class _NoTrades(FakeExchange):
    def order_trades(self, symbol: str, order_id: int) -> tuple:
        raise ExchangeError("myTrades is down")


def test_without_the_trades_an_exit_is_folded_in_with_an_estimated_commission(
        tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    h.fake = _NoTrades(path=MARKET_OCO_PATH)
    hooks = RecordingHooks()
    state = h.run(hooks=hooks)
    assert set(_statuses(state).values()) == {"done"}
    sells = [f for o in h.fake.orders if o.side == "SELL" for f in o.fills]
    assert sells and not [f for f in state.fills if f.side == "SELL"]  # only real fills stored
    assert ("fill", ("exit-1", 0)) in hooks.events  # reported as a summary fill
    assert any("could not read the trades" in n for n in hooks.named("note"))
    assert state.realised_pnl is not None and state.realised_pnl > 0


def test_entry_fees_and_fill_are_recorded_on_the_step(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    state = h.run()
    entry = state.step("entry")
    fake_entry = h.fake.orders[0]
    assert entry.filled_qty == fake_entry.executed
    assert entry.avg_price == fake_entry.quote / fake_entry.executed
    assert dict(entry.fees) == {"BTC": fake_entry.fills[0].commission}
    assert entry.order_id == fake_entry.order_id and entry.attempts == 1


def test_opoco_plan_follows_both_slices_to_their_take_profits(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, LIMIT_OPOCO, LIMIT_OPOCO_PATH)
    state = h.run()
    assert _statuses(state) == {"slice-1": "done", "slice-2": "done"}
    tps = [o for o in h.fake.orders if o.client_order_id.endswith("tp")]
    assert all(o.status == "FILLED" for o in tps)
    assert {state.order(o.client_order_id).status for o in tps} == {"FILLED"}
    assert state.realised_pnl is not None and state.realised_pnl > 0


def test_live_exchange_returns_once_the_exchange_enforces_the_rest(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, LIMIT_OPOCO, LIMIT_OPOCO_PATH, live=True)
    hooks = RecordingHooks()
    state = h.run(hooks=hooks)
    assert _statuses(state) == {"slice-1": "placed", "slice-2": "placed"}
    assert hooks.named("waiting") == []
    assert any("enforced by the exchange" in n for n in hooks.named("note"))
    followed = h.run(follow=True)
    assert _statuses(followed) == {"slice-1": "done", "slice-2": "done"}
    assert len(h.fake.accepted) == 8


def test_live_exchange_keeps_running_while_an_entry_must_be_awaited(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH, live=True)
    state = h.run()
    # the OCOs are placed by planrunner after the fill, then the exchange enforces them
    assert _statuses(state) == {"entry": "done", "await-entry": "done", "exit-1": "placed",
                                "exit-2": "placed"}


def test_rejected_entry_fails_and_skips_everything_after_it(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    h.fake.reject_next = InsufficientFunds(
        "Account has insufficient balance for requested action.", code=-2010)
    hooks = RecordingHooks()
    state = h.run(hooks=hooks)
    assert _statuses(state) == {"entry": "failed", "await-entry": "skipped",
                                "exit-1": "skipped", "exit-2": "skipped"}
    assert "insufficient balance" in state.step("entry").last_error
    assert h.fake.accepted == []
    assert hooks.named("plan_complete")


@pytest.mark.parametrize("rename", [False, True])
def test_expire_after_cancels_an_unfilled_entry_when_due(tmp_path: Path, rename: bool) -> None:
    h = Harness.build(tmp_path, LIMIT_EXPIRING, ())
    h.fake.rename_on_cancel = rename
    state = h.run(max_polls=200)
    assert _statuses(state) == {"slice-1": "done", "expire-slice-1": "done"}
    assert {o.status for o in h.fake.orders} == {"CANCELED"}
    waited_s = (h.clock.now_ms() - state.step("slice-1").placed_ms) / 1000
    assert waited_s >= 60
    assert {o.status for o in state.orders} == {"CANCELED"}
    assert {o.client_order_id for o in state.orders} == set(state.step("slice-1").leg_ids())


def test_expire_after_never_cancels_the_exits_of_a_filled_entry(tmp_path: Path) -> None:
    path = ("7090",) + ("7200",) * 70 + ("7310",)
    h = Harness.build(tmp_path, LIMIT_EXPIRING, path)
    hooks = RecordingHooks()
    state = h.run(hooks=hooks, max_polls=200)
    assert _statuses(state) == {"slice-1": "done", "expire-slice-1": "done"}
    assert [o.status for o in h.fake.orders] == ["FILLED", "FILLED", "EXPIRED"]
    assert any("already filled" in n for n in hooks.named("note"))


def test_waiting_reports_distances_and_calls_tick(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, LIMIT_OPOCO, LIMIT_OPOCO_PATH)
    hooks = RecordingHooks()
    h.run(hooks=hooks)
    first = hooks.named("waiting")[0]
    assert first["last_price"] == D("7195.24")
    working = [t for t in first["targets"] if t["client_order_id"].endswith("l1e")]
    assert working[0]["distance"] == D("7100") - D("7195.24")
    assert set(first["waiting_for"]) == {"slice-1", "slice-2"}
    assert len(h.fake.path) < len(LIMIT_OPOCO_PATH) - 3  # tick moved the market along


def test_a_plan_compiled_for_another_namespace_is_refused(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    other = dataclasses.replace(h.action_plan, namespace="zzzzzz")
    with pytest.raises(StateError, match="namespace"):
        h.engine().run(other, fresh_state(MARKET_OCO), follow=False)
    assert h.fake.accepted == []


def test_rerun_of_a_finished_plan_sends_nothing(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    first = h.run()
    sent = list(h.fake.accepted)
    second = h.run()
    assert h.fake.accepted == sent
    assert [s.status for s in second.steps] == [StepStatus.DONE] * 4
    assert second.serial == first.serial
