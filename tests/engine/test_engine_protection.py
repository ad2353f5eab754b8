"""Protection failures: exits that cannot be placed after the entry filled follow the plan's
stop.on_failure policy, loudly; insufficient balance is resized once; nothing is left silently
unprotected."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from engine_fakes import FakeExchange, RecordingHooks
from engine_scenarios import MARKET_OCO, MARKET_OCO_PATH, Harness, with_policy

from planrunner.errors import InsufficientFunds, OrderRejected
from planrunner.position import position
from planrunner.state import StepStatus

D = Decimal


def _request(h: Harness, suffix: str) -> dict[str, str]:
    return next(dict(p) for _, p in h.fake.requests
                if any(k in ("listClientOrderId", "newClientOrderId") and v.endswith(suffix)
                       for k, v in p))


def _drop_to(price: str):
    def move(fake: FakeExchange) -> None:
        fake.price = D(price)
    return move


def test_insufficient_balance_is_resized_to_the_free_balance_and_placed_once(
        tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, MARKET_OCO_PATH)
    h.fake.reject_on[2] = InsufficientFunds(
        "Account has insufficient balance for requested action.", code=-2010)
    h.fake.balance = {"BTC": D("0.0009"), "USDT": D("1000")}
    hooks = RecordingHooks()
    state = h.run(hooks=hooks)
    assert state.step("exit-1").status is StepStatus.FAILED
    assert _request(h, "-x1r1")["quantity"] == "0.0009"
    assert state.step("exit-1-r1").status is StepStatus.DONE
    record = next(d for d in state.drift if d.step == "exit-1")
    assert "insufficient balance" in record.change and "resized to 0.0009" in record.action
    assert any("PROTECTION exit-1" in n for n in hooks.named("note"))


def test_a_stop_that_would_trigger_immediately_exits_at_market(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, ())
    h.fake.after_submit[1] = _drop_to("7000")  # under both stops before they are placed
    state = h.run(max_polls=3)
    assert {state.step(i).status for i in ("exit-1", "exit-2")} == {StepStatus.FAILED}
    closes = [o for o in h.fake.orders if o.type == "MARKET" and o.side == "SELL"]
    assert sorted(o.client_order_id[-3:] for o in closes) == ["x1c", "x2c"]
    assert {o.status for o in closes} == {"FILLED"}
    assert position(state, "BUY", h.fake.market_context("BTCUSDT")).open_qty < D("0.00002")
    assert all("at market" in d.action for d in state.drift)
    assert all("would trigger immediately" in d.change for d in state.drift)


def test_an_exchange_refusal_to_trigger_immediately_is_handled_the_same(tmp_path: Path) -> None:
    h = Harness.build(tmp_path, MARKET_OCO, ())
    h.fake.reject_on[2] = OrderRejected("Order would trigger immediately.", code=-2010)
    state = h.run(max_polls=3)
    assert state.step("exit-1").status is StepStatus.FAILED
    assert state.step("exit-2").status is StepStatus.PLACED
    # the market did not move: the same prices are valid again, so they are re-placed
    assert state.step("exit-1-r1").status is StepStatus.PLACED
    assert _request(h, "-x1r1")["belowStopPrice"] == _request(h, "-x2")["belowStopPrice"]


def test_reprice_moves_the_stop_just_under_the_market_within_the_stop_limit(
        tmp_path: Path) -> None:
    plan = with_policy(MARKET_OCO, failure="reprice")
    h = Harness.build(tmp_path, plan, ())
    h.fake.after_submit[1] = _drop_to("7040")  # under the trigger 7051.34, over the limit
    state = h.run(max_polls=3)
    for n in (1, 2):
        repaired = _request(h, f"-x{n}r1")
        assert D(repaired["belowStopPrice"]) < D("7040")
        assert D(repaired["belowStopPrice"]) >= D(repaired["belowPrice"])
        assert state.step(f"exit-{n}-r1").status is StepStatus.PLACED
    assert all("repriced" in d.action for d in state.drift)
    assert not [o for o in h.fake.orders if o.type == "MARKET" and o.side == "SELL"]


def test_reprice_past_the_stop_limit_exits_at_market_instead(tmp_path: Path) -> None:
    plan = with_policy(MARKET_OCO, failure="reprice")
    h = Harness.build(tmp_path, plan, ())
    h.fake.after_submit[1] = _drop_to("7020")  # under the stop limit too
    state = h.run(max_polls=3)
    assert "exit-1-r1" not in {s.id for s in state.steps}
    assert state.step("exit-1-close").status is StepStatus.DONE


def test_a_failed_market_exit_stops_and_says_what_to_do(tmp_path: Path) -> None:
    import pytest

    from planrunner.errors import PlanrunnerError
    h = Harness.build(tmp_path, MARKET_OCO, ())
    h.fake.after_submit[1] = _drop_to("7000")
    h.fake.reject_on[2] = OrderRejected("Market is closed.", code=-1013)
    with pytest.raises(PlanrunnerError, match="cancel --close"):
        h.run(max_polls=3)
    state = h.store.load()
    assert state.step("exit-1-close").status is StepStatus.FAILED
    assert [d.unsafe for d in state.drift][-1] is True
