"""resolve_action: after-fill placeholders become concrete, rounded, filter-checked values."""

from __future__ import annotations

import pytest
from compile_builders import D, MARKET_ENTRY, compiled, market, plan, stop, stop_limit_entry, tps

from planrunner.actions import ActionKind
from planrunner.compile import EntryFill, resolve_action
from planrunner.errors import CompileError
from planrunner.plan.model import Side, Size, SizeKind

# Bought 0.01 BTC at 7200 avg, paid 0.00001 BTC commission in the base asset.
FILL = EntryFill(executed_qty=D("0.01"), avg_price=D("7200"), net_qty=D("0.00999"), quote_qty=D("72"))


def test_market_fill_resolves_quantities_net_of_base_commission_and_prices_from_the_average():
    result = compiled(plan(entry=MARKET_ENTRY))
    first = resolve_action(result.action("exit-1"), FILL, market())
    second = resolve_action(result.action("exit-2"), FILL, market())
    p1, p2 = first.request.concrete().as_dict(), second.request.concrete().as_dict()
    # slice 1: floor(0.00999 * 50%) = 0.00499; the last slice takes the remainder 0.005
    assert (p1["quantity"], p2["quantity"]) == ("0.00499", "0.005")
    assert D(p1["quantity"]) + D(p2["quantity"]) == FILL.net_qty
    assert p1["abovePrice"] == "7416"       # 7200 * 1.03, rounded up
    assert p2["abovePrice"] == "7560"       # 7200 * 1.05
    assert p1["belowStopPrice"] == "7056"   # 7200 * 0.98, rounded up
    assert p1["belowPrice"] == "7034.83"    # 7056 * 0.997 = 7034.832, rounded down
    assert not first.after_fill and first.legs[0].quantity == D("0.00499")
    assert first.id == "exit-1" and first.client_id == result.action("exit-1").client_id


def test_stop_limit_entry_resolves_only_the_quantity():
    result = compiled(plan(entry=stop_limit_entry("7300", "+0.1%")))
    before = result.action("exit-1").request.params
    after = resolve_action(result.action("exit-1"), FILL, market()).request.concrete().params
    assert [(k, v) for k, v in before if k != "quantity"] == [(k, v) for k, v in after if k != "quantity"]
    assert dict(after)["quantity"] == "0.00499"


def test_sell_plan_buys_back_the_net_quantity():
    result = compiled(plan(side=Side.SELL, entry=MARKET_ENTRY, take_profits=tps(("-3%", "100"))))
    sold = EntryFill(D("0.01"), D("7200"), D("0.01"), D("72"))
    params = resolve_action(result.action("exit-1"), sold, market()).request.concrete().as_dict()
    assert (params["side"], params["quantity"]) == ("BUY", "0.01")
    assert params["aboveStopPrice"] == "7344" and params["belowPrice"] == "6984"


def test_fill_too_small_for_the_minimum_notional_is_a_compile_error():
    result = compiled(plan(entry=MARKET_ENTRY, size=Size(SizeKind.SPEND, D("20"))))
    tiny = EntryFill(D("0.001"), D("7200"), D("0.000999"), D("7.2"))
    with pytest.raises(CompileError) as info:
        resolve_action(result.action("exit-1"), tiny, market())
    message = str(info.value)
    assert "after the entry filled 0.000999 BTC net at 7200" in message
    assert "minimum notional 5 USDT" in message


def test_fill_that_makes_the_stop_trigger_immediately_is_refused():
    result = compiled(plan(entry=MARKET_ENTRY))
    crashed = market(last="7000")  # the market fell under the stop computed from the fill
    with pytest.raises(CompileError, match="would trigger immediately"):
        resolve_action(result.action("exit-1"), FILL, crashed)


def test_empty_fill_is_refused():
    result = compiled(plan(entry=MARKET_ENTRY))
    with pytest.raises(CompileError, match="filled nothing"):
        resolve_action(result.action("exit-1"), EntryFill(D(0), D(0), D(0), D(0)), market())


def test_concrete_actions_come_back_unchanged():
    result = compiled(plan())
    for action in result.actions:
        assert resolve_action(action, FILL, market()) is action
    assert all(a.kind is not ActionKind.AWAIT_FILL for a in result.actions)


def test_trailing_stop_after_a_market_fill_resolves_its_floor_and_keeps_the_delta():
    trailing = plan(entry=MARKET_ENTRY, take_profits=(), stop_=stop("-2%", "-1%", trailing="1.5"))
    result = compiled(trailing)
    params = resolve_action(result.action("exit-1"), FILL, market()).request.concrete().as_dict()
    assert params["type"] == "STOP_LOSS_LIMIT" and params["trailingDelta"] == "150"
    assert "stopPrice" not in params
    assert params["price"] == "6985.44"  # 7200 * 0.98 = 7056 (up), -1% = 6985.44 (down)
    assert params["quantity"] == "0.00999"
