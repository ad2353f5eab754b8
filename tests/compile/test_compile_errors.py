"""Every CompileError the compiler raises: each names the filter or flag and what to change."""

from __future__ import annotations

import pytest
from compile_builders import (D, MARKET_ENTRY, compiled, market, none_entry, plan, stop, stop_limit_entry,
                              tps)

from planrunner.errors import CompileError
from planrunner.exchanges.base import Capabilities
from planrunner.plan.model import Side, Size, SizeKind, StopType

ALL_TYPES = frozenset({"LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT"})


def qty(amount: str) -> Size:
    return Size(SizeKind.QUANTITY, D(amount))


CASES = [
    ("notional-min", plan(size=qty("0.0012")), {},
     ["minimum notional 5 USDT", "take-profit slice 2", "fewer take-profit slices"]),
    ("notional-max", plan(size=qty("2000"), take_profits=tps(("+3%", "100"))),
     {"max_notional": D("1000000")}, ["maximum notional 1000000 USDT", "entry slice 1"]),
    ("lot-min", plan(size=qty("0.00001"), take_profits=tps(("+3%", "100"))), {"min_qty": D("0.001")},
     ["LOT_SIZE minimum 0.001 BTC"]),
    ("lot-max", plan(size=qty("9500"), take_profits=tps(("+3%", "100"))), {"max_notional": D(0)},
     ["LOT_SIZE maximum 9000 BTC", "lower the quantity"]),
    ("market-lot-max", plan(entry=MARKET_ENTRY, size=qty("80")), {"max_notional": D(0)},
     ["MARKET_LOT_SIZE maximum 76.88596971 BTC"]),
    ("price-filter", plan(take_profits=tps(("1200000", "100"))), {"ask_multiplier_up": D(0)},
     ["take-profit slice 1 price 1200000", "PRICE_FILTER range 0.01 to 1000000"]),
    ("percent-price", plan(take_profits=tps(("40000", "100"))), {},
     ["PERCENT_PRICE_BY_SIDE", "for SELL orders", "closer to the market"]),
    ("trailing-bounds", plan(stop_=stop("-2%", "-1%", trailing="25")), {},
     ["TRAILING_DELTA range for SELL stops, 10 to 2000 BIPS", "2500 BIPS", "change stop.trailing"]),
    ("trailing-fraction", plan(stop_=stop("-2%", "-1%", trailing="1.005")), {}, ["whole BIPS"]),
    ("trailing-off", plan(stop_=stop("-2%", "-1%", trailing="1")), {"allow_trailing_stop": False},
     ["does not allow trailing stops", "remove stop.trailing"]),
    ("max-orders", plan(), {"max_num_orders": 4},
     ["keeps 6 orders open", "MAX_NUM_ORDERS allows 4: use at most 1 take-profit slice "]),
    ("max-orders-none-fit", plan(), {"max_num_orders": 2}, ["cannot hold this plan's orders at once"]),
    ("max-algo", plan(), {"max_num_algo_orders": 1}, ["keeps 2 stop orders", "MAX_NUM_ALGO_ORDERS allows 1"]),
    ("max-lists", plan(), {"max_num_order_lists": 1}, ["keeps 2 order lists", "MAX_NUM_ORDER_LISTS"]),
    ("type-stop-loss", plan(stop_=stop("-2%", None, kind=StopType.MARKET)),
     {"order_types": ALL_TYPES - {"STOP_LOSS"}}, ["STOP_LOSS order", "use stop type: limit"]),
    ("type-market", plan(entry=MARKET_ENTRY), {"order_types": ALL_TYPES - {"MARKET"}},
     ["MARKET order", "use a limit entry"]),
    ("oco-off", plan(entry=MARKET_ENTRY), {"oco_allowed": False},
     ["does not allow OCO order lists", "keep only the stop or only the take-profits"]),
    ("quote-qty-off", plan(entry=MARKET_ENTRY, size=Size(SizeKind.SPEND, D("100"))),
     {"quote_order_qty_market_allowed": False}, ["quoteOrderQtyMarketAllowed", "use quantity"]),
    ("stop-would-trigger", plan(entry=none_entry("7400")), {},
     ["stop slice 1 trigger 7252", "would trigger immediately", "lower it below 7195.24"]),
    ("tp-would-match", plan(entry=none_entry("6900"), take_profits=tps(("+2%", "100"))), {},
     ["take-profit slice 1 7038", "LIMIT_MAKER SELL would match immediately"]),
    ("stop-limit-entry-would-trigger", plan(entry=stop_limit_entry("7100", "+0.1%"), take_profits=()), {},
     ["entry trigger 7100", "would trigger immediately", "raise it above 7195.24"]),
    ("stop-limit-past-trigger", plan(stop_=stop("-2%", "+0.5")), {},
     ["stop slice 1 limit 6958.5 is above its trigger 6958", "must be at or below its trigger"]),
    ("buy-stop-limit-past-trigger", plan(side=Side.SELL, stop_=stop("+2%", "-0.5")), {},
     ["stop slice 1 limit 7445.5 is below its trigger 7446", "must be at or above its trigger"]),
    ("not-trading", plan(), {"status": "HALT"}, ["not open for spot trading (status HALT)"]),
    ("risk-without-stop", plan(size=Size(SizeKind.RISK, D("10")), stop_=None), {},
     ["risk sizing needs a stop"]),
]


@pytest.mark.parametrize("name, the_plan, rules, fragments", CASES, ids=[c[0] for c in CASES])
def test_compile_error_table(name, the_plan, rules, fragments):
    with pytest.raises(CompileError) as info:
        compiled(the_plan, market(**rules))
    message = str(info.value)
    assert message.startswith("plan btc-breakout cannot be placed on BTCUSDT:")
    for fragment in fragments:
        assert fragment in message


def test_stop_limit_past_trigger_after_rounding_names_the_tick():
    # rounding moves a SELL limit down and its trigger up, so only a limit a tick or more above
    # the trigger stays past it; a sub-tick excess is absorbed (next test)
    with pytest.raises(CompileError) as info:
        compiled(plan(stop_=stop("6958", "6958.014")))
    assert "limit 6958.01 is above its trigger 6958 after rounding to the tick 0.01" in str(info.value)


def test_sub_tick_limit_excess_is_rounded_back_to_the_trigger():
    params = compiled(plan(stop_=stop("6958", "6958.004"))).action("slice-1").request.concrete().as_dict()
    assert (params["pendingBelowStopPrice"], params["pendingBelowPrice"]) == ("6958", "6958")


def test_every_problem_is_reported_at_once():
    bad = plan(size=qty("0.0012"), stop_=stop("-2%", "-1%", trailing="25"))
    with pytest.raises(CompileError) as info:
        compiled(bad, market(allow_trailing_stop=False))
    lines = str(info.value).splitlines()[1:]
    assert len(lines) >= 3
    assert any("minimum notional" in line for line in lines)
    assert any("TRAILING_DELTA" in line for line in lines)
    assert any("does not allow trailing stops" in line for line in lines)


def test_notional_message_gives_the_quantity_needed():
    with pytest.raises(CompileError) as info:
        compiled(plan(entry=none_entry("7000"), size=qty("0.001"),
                      take_profits=tps(("7300", "50"), ("7400", "50"))))
    message = str(info.value)
    # slice 2: 0.0005 BTC x 7400 = 3.7 USDT; needs ceil(5 / 7400, 0.00001) = 0.00068 BTC
    assert "take-profit slice 2 is 0.0005 BTC x 7400 = 3.7 USDT" in message
    assert "at least 0.00068 BTC" in message


def test_adapter_without_oco_lists_is_refused_when_oco_is_needed():
    caps = Capabilities(name="bare", order_lists=frozenset())
    with pytest.raises(CompileError, match="the bare exchange cannot place OCO order lists"):
        compiled(plan(entry=MARKET_ENTRY), caps=caps)


def test_sell_side_errors_mirror():
    sell = plan(side=Side.SELL, entry=none_entry("7000"))
    with pytest.raises(CompileError) as info:
        compiled(sell)
    assert "a BUY stop would trigger immediately" in str(info.value)


def test_valid_plan_at_the_edge_compiles():
    # 0.0015 BTC split 0.00075 + 0.00075: the stop leg at 6937.12 is 5.20 USDT, just over 5
    result = compiled(plan(size=qty("0.0015")))
    assert len(result.actions) == 2
