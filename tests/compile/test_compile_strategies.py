"""Which strategy the compiler picks, and the exact requests it builds for each."""

from __future__ import annotations

import dataclasses

import pytest
from compile_builders import (D, MARKET_ENTRY, compiled, limit_entry, market, none_entry, plan, stop,
                              stop_limit_entry, tps)

from planrunner.actions import ActionKind, Deferred, Strategy
from planrunner.exchanges.base import Capabilities
from planrunner.plan.model import Side, Size, SizeKind, StopType

BUY, SELL = Side.BUY, Side.SELL
NO_OPO = dict(opo_allowed=False)
NO_LISTS = dict(oto_allowed=False, opo_allowed=False)


@pytest.mark.parametrize("side, entry, tp, sl, rules, strategy, ids, paths", [
    (BUY, None, None, "default", {}, Strategy.OPOCO, ["slice-1", "slice-2"], ["opoco", "opoco"]),
    (BUY, None, None, "default", NO_OPO, Strategy.OTOCO, ["slice-1", "slice-2"], ["otoco", "otoco"]),
    (SELL, None, None, "default", {}, Strategy.OTOCO, ["slice-1", "slice-2"], ["otoco", "otoco"]),
    (BUY, None, None, None, {}, Strategy.OPO, ["slice-1", "slice-2"], ["opo", "opo"]),
    (BUY, None, (), "default", NO_OPO, Strategy.OTO, ["slice-1"], ["oto"]),
    (SELL, None, (), "default", {}, Strategy.OTO, ["slice-1"], ["oto"]),
    (BUY, None, None, "default", NO_LISTS, Strategy.ENTRY_THEN_OCO,
     ["entry", "await-entry", "exit-1", "exit-2"], ["order", None, "oco", "oco"]),
    (BUY, MARKET_ENTRY, None, "default", {}, Strategy.ENTRY_THEN_OCO,
     ["entry", "await-entry", "exit-1", "exit-2"], ["order", None, "oco", "oco"]),
    (SELL, MARKET_ENTRY, None, None, {}, Strategy.ENTRY_THEN_ORDER,
     ["entry", "await-entry", "exit-1", "exit-2"], ["order", None, "order", "order"]),
    (BUY, stop_limit_entry("7300", "+0.1%"), (), "default", {}, Strategy.ENTRY_THEN_ORDER,
     ["entry", "await-entry", "exit-1"], ["order", None, "order"]),
    (BUY, none_entry("7000"), None, "default", {}, Strategy.OCO_NOW, ["exit-1", "exit-2"], ["oco", "oco"]),
    (BUY, none_entry("7000"), (), "default", {}, Strategy.ORDER_NOW, ["exit-1"], ["order"]),
])
def test_strategy_table(side, entry, tp, sl, rules, strategy, ids, paths):
    result = compiled(plan(side=side, entry=entry, take_profits=tp, stop_=sl), market(**rules))
    assert result.strategy is strategy
    assert result.strategy_reason
    assert [a.id for a in result.actions] == ids
    got = [a.request.path.rsplit("/", 1)[1] if a.request else None for a in result.actions]
    assert got == paths


def test_adapter_without_opoco_falls_back_to_otoco():
    caps = Capabilities(name="x", order_lists=frozenset({"OCO", "OTO", "OTOCO"}))
    assert compiled(plan(), caps=caps).strategy is Strategy.OTOCO


def test_opoco_request_has_no_pending_quantity_and_all_client_ids():
    action = compiled(plan()).action("slice-1")
    params = action.request.concrete().as_dict()
    assert "pendingQuantity" not in params
    assert params["workingType"] == "LIMIT" and params["workingSide"] == "BUY"
    assert params["workingQuantity"] == "0.005" and params["workingPrice"] == "7100"
    assert params["pendingAboveType"] == "LIMIT_MAKER" and params["pendingAbovePrice"] == "7313"
    assert params["pendingBelowType"] == "STOP_LOSS_LIMIT"
    assert (params["pendingBelowStopPrice"], params["pendingBelowPrice"]) == ("6958", "6937.12")
    assert params["pendingBelowTimeInForce"] == "GTC" and params["newOrderRespType"] == "FULL"
    ids = {params[k] for k in ("listClientOrderId", "workingClientOrderId",
                               "pendingAboveClientOrderId", "pendingBelowClientOrderId")}
    assert len(ids) == 4 and action.client_id == params["listClientOrderId"]


def test_otoco_buy_sizes_exits_net_of_taker_commission_and_warns():
    result = compiled(plan(size=Size(SizeKind.QUANTITY, D("0.02"))), market(**NO_OPO))
    params = result.action("slice-1").request.concrete().as_dict()
    assert params["workingQuantity"] == "0.01"
    assert params["pendingQuantity"] == "0.00999"  # floor(0.01 * 0.999, 0.00001)
    assert any("commission" in w for w in result.warnings)


def test_otoco_sell_puts_the_stop_above_and_buys_back_the_same_quantity():
    params = compiled(plan(side=SELL)).action("slice-1").request.concrete().as_dict()
    assert params["workingSide"] == "SELL" and params["pendingSide"] == "BUY"
    assert params["pendingQuantity"] == params["workingQuantity"] == "0.005"
    assert params["pendingAboveType"] == "STOP_LOSS_LIMIT"
    assert params["pendingBelowType"] == "LIMIT_MAKER"


def test_market_stop_is_stop_loss_without_price():
    result = compiled(plan(stop_=stop("-2%", None, kind=StopType.MARKET)))
    params = result.action("slice-1").request.concrete().as_dict()
    assert params["pendingBelowType"] == "STOP_LOSS"
    assert "pendingBelowPrice" not in params and "pendingBelowTimeInForce" not in params


def test_trailing_stop_sends_delta_in_bips_and_no_stop_price():
    result = compiled(plan(stop_=stop("-2%", "-1%", trailing="1.5")))
    params = result.action("slice-1").request.concrete().as_dict()
    assert params["pendingBelowTrailingDelta"] == "150"
    assert "pendingBelowStopPrice" not in params
    assert params["pendingBelowPrice"] == "6888.42"  # floor of 7100 * 0.98 -> 6958, -1% -> 6888.42


def test_market_entry_defers_exits_and_wires_dependencies():
    result = compiled(plan(entry=MARKET_ENTRY))
    entry = result.action("entry").request.concrete().as_dict()
    assert (entry["type"], entry["quantity"], entry["newOrderRespType"]) == ("MARKET", "0.01", "FULL")
    wait = result.action("await-entry")
    assert wait.kind is ActionKind.AWAIT_FILL and wait.wait_for == "entry" and wait.depends_on == ("entry",)
    exit_1 = result.action("exit-1")
    assert exit_1.after_fill and exit_1.depends_on == ("await-entry",)
    deferred = {k for k, v in exit_1.request.params if isinstance(v, Deferred)}
    assert deferred == {"quantity", "abovePrice", "belowPrice", "belowStopPrice"}
    assert result.risk.estimated


def test_market_spend_uses_quote_order_qty():
    result = compiled(plan(entry=MARKET_ENTRY, size=Size(SizeKind.SPEND, D("100"))))
    params = result.action("entry").request.concrete().as_dict()
    assert params["quoteOrderQty"] == "100" and "quantity" not in params


def test_limit_spend_is_divided_by_the_limit_price_and_rounded_down():
    result = compiled(plan(size=Size(SizeKind.SPEND, D("100"))))
    params = result.action("slice-1").request.concrete().as_dict()
    # 100 / 7100 = 0.0140845... -> 0.01408 total, split 0.00704 + 0.00704
    assert params["workingQuantity"] == "0.00704"


def test_risk_sizing_divides_the_risk_by_the_distance_to_the_stop_limit():
    result = compiled(plan(size=Size(SizeKind.RISK, D("10")), take_profits=()), market(**NO_OPO))
    params = result.action("slice-1").request.concrete().as_dict()
    # 10 / (7100 - 6937.12) = 0.061393... -> 0.06139
    assert params["workingQuantity"] == "0.06139"


def test_stop_limit_entry_knows_exit_prices_and_defers_only_quantities():
    result = compiled(plan(entry=stop_limit_entry("7300", "+0.1%")))
    entry = result.action("entry").request.concrete().as_dict()
    assert (entry["type"], entry["stopPrice"], entry["price"]) == ("STOP_LOSS_LIMIT", "7300", "7307.3")
    deferred = {k for k, v in result.action("exit-1").request.params if isinstance(v, Deferred)}
    assert deferred == {"quantity"}
    assert not result.risk.estimated


def test_expire_after_adds_emulated_cancels_and_a_warning():
    result = compiled(plan(entry=limit_entry("7100", expire_after_s=3600)))
    cancel = result.action("expire-slice-2")
    assert cancel.kind is ActionKind.CANCEL and cancel.emulated and cancel.delay_s == 3600
    assert cancel.depends_on == ("slice-2",) and cancel.wait_for == "slice-2"
    assert cancel.request.concrete().as_dict()["listClientOrderId"] == result.action("slice-2").client_id
    assert any("expire_after" in w and "planrunner" in w for w in result.warnings)


def test_entry_none_places_concrete_ocos_relative_to_cost_basis():
    result = compiled(plan(entry=none_entry("7000")))
    params = result.action("exit-1").request.concrete().as_dict()
    assert (params["side"], params["quantity"], params["abovePrice"]) == ("SELL", "0.005", "7210")
    assert params["belowStopPrice"] == "6860" and result.action("exit-1").depends_on == ()


@pytest.mark.parametrize("entry, fragment", [
    (limit_entry("7300"), "fills at once as a taker"),
])
def test_buy_limit_above_last_price_warns(entry, fragment):
    assert any(fragment in w for w in compiled(plan(entry=entry)).warnings)


def test_tight_stop_limit_gap_warns():
    result = compiled(plan(stop_=stop("-2%", "-0.05%")))
    assert any("within 0.1%" in w for w in result.warnings)


def test_risk_summary_numbers():
    one_slice = plan(take_profits=tps(("7313", "100")), stop_=stop("6958", "6937.12"))
    result = compiled(one_slice, market(**NO_OPO))
    risk = result.risk
    # loss 0.01 * (7100 - 6937.12) + fees 0.001 * 0.01 * (7100 + 6937.12)
    assert risk.worst_loss == D("1.62880000") + D("0.14037120")
    assert risk.best_gain == D("2.13") - D("0.14413")
    assert risk.worst_loss_pct == D("2.49")
    assert risk.reward_risk == (risk.best_gain / risk.worst_loss).quantize(D("0.01"))


def test_opo_single_take_profit_leaves_the_quantity_to_the_exchange():
    params = compiled(plan(stop_=None)).action("slice-2").request.concrete().as_dict()
    assert params["pendingType"] == "LIMIT_MAKER" and params["pendingSide"] == "SELL"
    assert "pendingQuantity" not in params and params["pendingPrice"] == "7455"


def test_oto_sell_stop_only_sends_pending_quantity():
    params = compiled(plan(side=SELL, take_profits=())).action("slice-1").request.concrete().as_dict()
    assert (params["pendingType"], params["pendingSide"]) == ("STOP_LOSS_LIMIT", "BUY")
    assert params["pendingQuantity"] == "0.01" and params["pendingTimeInForce"] == "GTC"


def test_single_exit_orders_after_a_market_entry():
    result = compiled(plan(entry=MARKET_ENTRY, stop_=None))
    exit_2 = result.action("exit-2")
    assert exit_2.kind is ActionKind.PLACE_ORDER and exit_2.request.path == "/api/v3/order"
    params = dict(exit_2.request.params)
    assert params["type"] == "LIMIT_MAKER" and params["newClientOrderId"] == exit_2.client_id
    assert isinstance(params["quantity"], Deferred) and isinstance(params["price"], Deferred)


def test_entry_without_exits_places_only_the_entry_and_warns():
    result = compiled(plan(take_profits=(), stop_=None))
    assert [a.id for a in result.actions] == ["entry"]
    assert result.risk.worst_loss is None and result.risk.best_gain is None
    assert any("nothing exits" in w for w in result.warnings)


def test_expire_after_on_entry_none_has_no_cancel_and_says_so():
    entry = dataclasses.replace(none_entry("7000"), expire_after_s=60)
    result = compiled(plan(entry=entry))
    assert all(a.kind is not ActionKind.CANCEL for a in result.actions)
    assert any("no effect on a none entry" in w for w in result.warnings)
