"""Every single-order rejection of the paper matching engine: Binance's code and exact message,
and nothing changes in the account when an order is refused."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from planrunner.errors import InsufficientFunds, OrderRejected
from planrunner.exchanges.base import ExchangeRequest
from planrunner.exchanges.paper.matching import MatchingEngine
from planrunner.exchanges.rules import builtin_rules

T0 = 1_700_000_000_000
RULES = builtin_rules()


def order(**params: str) -> ExchangeRequest:
    params = {"symbol": "BTCUSDT", **params}
    return ExchangeRequest("POST", "/api/v3/order", tuple((k, v) for k, v in params.items() if v is not None))


def limit(side: str = "BUY", qty: str = "0.01", price: str = "9000", **extra: str) -> ExchangeRequest:
    fields = {"side": side, "type": "LIMIT", "timeInForce": "GTC", "quantity": qty, "price": price}
    return order(**{**fields, **extra})


def fresh(rules=None, **balances: str) -> MatchingEngine:
    start = {k: D(v) for k, v in (balances or {"USDT": "100000", "BTC": "10"}).items()}
    engine = MatchingEngine(rules or RULES, balances=start)
    engine.set_price("BTCUSDT", D("10000"), T0)
    return engine


def mandatory(name: str) -> str:
    return f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."


DECIMAL_RANGE = "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'."

CASES = [
    ("no symbol", order(symbol=None, side="BUY", type="MARKET", quantity="1"), -1102, mandatory("symbol")),
    ("bad symbol", order(symbol="FOOBAR", side="BUY", type="MARKET", quantity="1"), -1121, "Invalid symbol."),
    ("no side", order(type="MARKET", quantity="0.01"), -1102, mandatory("side")),
    ("bad side", order(side="HOLD", type="MARKET", quantity="0.01"), -1117, "Invalid side."),
    ("no type", order(side="BUY", quantity="0.01"), -1102, mandatory("type")),
    ("bad type", order(side="BUY", type="ICEBERG", quantity="0.01"), -1116, "Invalid orderType."),
    ("bad tif", limit(timeInForce="GTX"), -1115, "Invalid timeInForce."),
    ("limit no price", limit(price=None), -1102, mandatory("price")),
    ("limit no tif", limit(timeInForce=None), -1102, mandatory("timeInForce")),
    ("limit no qty", limit(qty=None), -1102, mandatory("quantity")),
    ("market with price", order(side="BUY", type="MARKET", quantity="0.01", price="9000"),
     -1106, "Parameter 'price' sent when not required."),
    ("limit with stop", limit(stopPrice="9000"), -1106, "Parameter 'stopPrice' sent when not required."),
    ("maker with tif", order(side="BUY", type="LIMIT_MAKER", quantity="0.01", price="9000",
                             timeInForce="GTC"), -1106, "Parameter 'timeInForce' sent when not required."),
    ("limit trailing", limit(trailingDelta="100"), -1106,
     "Parameter 'trailingDelta' sent when not required."),
    ("market no qty", order(side="BUY", type="MARKET"), -1102,
     "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"),
    ("market both", order(side="BUY", type="MARKET", quantity="0.01", quoteOrderQty="100"), -1106,
     "Parameter 'quoteOrderQty' sent when not required."),
    ("stop no trigger", order(side="SELL", type="STOP_LOSS", quantity="0.01"), -1102,
     "Param 'stopPrice' or 'trailingDelta' must be sent, but both were empty/null!"),
    ("qty junk", limit(qty="1e-3"), -1100, f"Illegal characters found in parameter 'quantity'; legal range is {DECIMAL_RANGE}"),
    ("qty negative", limit(qty="-1"), -1100, f"Illegal characters found in parameter 'quantity'; legal range is {DECIMAL_RANGE}"),
    ("qty precision", limit(qty="0.000000001"), -1111, "Parameter 'quantity' has too much precision."),
    ("qty zero", limit(qty="0"), -1013, "Invalid quantity."),
    ("price zero", limit(price="0.00"), -1013, "Invalid price."),
    ("trailing junk", order(side="SELL", type="STOP_LOSS", quantity="0.01", trailingDelta="1.5"), -1100,
     "Illegal characters found in parameter 'trailingDelta'; legal range is '^[0-9]{1,20}$'."),
    ("client id junk", limit(newClientOrderId="has space"), -1100,
     "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[a-zA-Z0-9-_]{1,36}$'."),
    ("price off tick", limit(price="9000.005"), -1013, "Filter failure: PRICE_FILTER"),
    ("price above max", limit(price="1000000.01"), -1013, "Filter failure: PRICE_FILTER"),
    ("stop off tick", order(side="SELL", type="STOP_LOSS", quantity="0.01", stopPrice="9000.001"),
     -1013, "Filter failure: PRICE_FILTER"),
    ("qty off step", limit(qty="0.000015"), -1013, "Filter failure: LOT_SIZE"),
    ("qty above max", limit(qty="9000.1", price="5000"), -1013, "Filter failure: LOT_SIZE"),
    ("market qty above market max", order(side="SELL", type="MARKET", quantity="77"), -1013,
     "Filter failure: MARKET_LOT_SIZE"),
    ("trailing too small", order(side="SELL", type="STOP_LOSS", quantity="0.01", trailingDelta="9"),
     -1013, "Filter failure: TRAILING_DELTA"),
    ("trailing too big", order(side="BUY", type="STOP_LOSS", quantity="0.01", trailingDelta="2001"),
     -1013, "Filter failure: TRAILING_DELTA"),
    ("bid too low", limit(price="1999.99"), -1013, "Filter failure: PERCENT_PRICE_BY_SIDE"),
    ("ask too high", limit(side="SELL", price="50000.01"), -1013, "Filter failure: PERCENT_PRICE_BY_SIDE"),
    ("limit notional", limit(qty="0.0005", price="9000"), -1013, "Filter failure: NOTIONAL"),
    ("market notional", order(side="BUY", type="MARKET", quantity="0.0004"), -1013, "Filter failure: NOTIONAL"),
    ("quote notional", order(side="BUY", type="MARKET", quoteOrderQty="4.99"), -1013, "Filter failure: NOTIONAL"),
    ("stop sell above", order(side="SELL", type="STOP_LOSS", quantity="0.01", stopPrice="10500"),
     -2010, "Order would trigger immediately."),
    ("stop sell at market", order(side="SELL", type="STOP_LOSS_LIMIT", quantity="0.01", stopPrice="10000",
                                  price="9900", timeInForce="GTC"), -2010, "Order would trigger immediately."),
    ("stop buy below", order(side="BUY", type="STOP_LOSS", quantity="0.01", stopPrice="9500"),
     -2010, "Order would trigger immediately."),
    ("tp sell below", order(side="SELL", type="TAKE_PROFIT", quantity="0.01", stopPrice="9500"),
     -2010, "Order would trigger immediately."),
    ("tp buy above", order(side="BUY", type="TAKE_PROFIT_LIMIT", quantity="0.01", stopPrice="10001",
                           price="10001", timeInForce="GTC"), -2010, "Order would trigger immediately."),
    ("maker buy takes", order(side="BUY", type="LIMIT_MAKER", quantity="0.01", price="10000"),
     -2010, "Order would immediately match and take."),
    ("maker sell takes", order(side="SELL", type="LIMIT_MAKER", quantity="0.01", price="9999.99"),
     -2010, "Order would immediately match and take."),
]


@pytest.mark.parametrize("request_, code, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rejection_has_binance_code_and_message(request_, code, message):
    engine = fresh()
    before = engine.to_dict()
    with pytest.raises(OrderRejected) as info:
        engine.submit(request_, T0 + 1)
    assert (info.value.code, info.value.venue_message) == (code, message)
    assert str(info.value) == message
    assert engine.to_dict() == before


def test_order_test_endpoint_validates_like_submit_and_changes_nothing():
    engine = fresh()
    before = engine.to_dict()
    assert engine.test_order(limit(), T0) is None
    with pytest.raises(OrderRejected) as info:
        engine.test_order(limit(qty="0.000015"), T0)
    assert info.value.venue_message == "Filter failure: LOT_SIZE"
    assert engine.to_dict() == before


def test_insufficient_balance_for_limit_buy_and_market_sell():
    engine = fresh(USDT="899.99", BTC="0.005")
    with pytest.raises(InsufficientFunds) as info:
        engine.submit(limit(qty="0.1", price="9000"), T0)
    assert info.value.code == -2010
    assert info.value.venue_message == "Account has insufficient balance for requested action."
    with pytest.raises(InsufficientFunds):
        engine.submit(order(side="SELL", type="MARKET", quantity="0.006"), T0)
    with pytest.raises(InsufficientFunds):
        engine.submit(order(side="BUY", type="MARKET", quoteOrderQty="900"), T0)
    assert engine.all_orders() == ()


def test_duplicate_client_id_refused_while_open_accepted_after_final():
    engine = fresh()
    engine.submit(limit(newClientOrderId="entry-1"), T0)
    with pytest.raises(OrderRejected) as info:
        engine.submit(limit(newClientOrderId="entry-1"), T0)
    assert (info.value.code, info.value.venue_message) == (-2010, "Duplicate order sent.")
    engine.cancel_order("BTCUSDT", client_order_id="entry-1", now_ms=T0 + 1)
    again = engine.submit(limit(newClientOrderId="entry-1"), T0 + 2)
    assert again.order_id == 2
    assert engine.query_order("BTCUSDT", client_order_id="entry-1").order_id == 2


FLAG_CASES = [
    ("order_types", frozenset({"LIMIT", "MARKET"}), order(side="SELL", type="STOP_LOSS", quantity="0.01",
                                                         stopPrice="9000"),
     "Stop loss orders are not supported for this symbol."),
    ("order_types", frozenset({"LIMIT"}), order(side="SELL", type="MARKET", quantity="0.01"),
     "Market orders are not supported for this symbol."),
    ("order_types", frozenset({"LIMIT", "MARKET", "STOP_LOSS"}),
     order(side="SELL", type="TAKE_PROFIT_LIMIT", quantity="0.01", stopPrice="11000", price="11000",
           timeInForce="GTC"), "Take profit limit orders are not supported for this symbol."),
    ("allow_trailing_stop", False, order(side="SELL", type="STOP_LOSS", quantity="0.01", trailingDelta="100"),
     "Trailing stop orders are not supported for this symbol."),
    ("quote_order_qty_market_allowed", False, order(side="BUY", type="MARKET", quoteOrderQty="100"),
     "Quote order qty market orders are not support for this symbol."),
    ("status", "BREAK", limit(), "Market is closed."),
]


@pytest.mark.parametrize("field, value, request_, message", FLAG_CASES,
                         ids=[f"{c[0]}-{c[3][:20]}" for c in FLAG_CASES])
def test_symbol_flags_refuse_with_2010(field, value, request_, message):
    rules = dict(RULES, BTCUSDT=replace(RULES["BTCUSDT"], **{field: value}))
    with pytest.raises(OrderRejected) as info:
        fresh(rules).submit(request_, T0)
    assert (info.value.code, info.value.venue_message) == (-2010, message)


def stop(i: int) -> ExchangeRequest:
    return order(side="SELL", type="STOP_LOSS", quantity="0.01", stopPrice=str(9000 + i))


def test_max_num_algo_orders_counts_open_stops_only():
    engine = fresh()
    for i in range(RULES["BTCUSDT"].max_num_algo_orders):
        engine.submit(stop(i), T0)
    engine.submit(limit(), T0)  # a plain limit is not an algo order
    with pytest.raises(OrderRejected) as info:
        engine.submit(stop(99), T0)
    assert info.value.venue_message == "Filter failure: MAX_NUM_ALGO_ORDERS"
    engine.cancel_order("BTCUSDT", order_id=1, now_ms=T0)
    assert engine.submit(stop(99), T0).order_id == 7


def test_max_num_orders():
    rules = dict(RULES, BTCUSDT=replace(RULES["BTCUSDT"], max_num_orders=2))
    engine = fresh(rules)
    engine.submit(limit(), T0)
    engine.submit(limit(), T0)
    with pytest.raises(OrderRejected) as info:
        engine.submit(limit(), T0)
    assert (info.value.code, info.value.venue_message) == (-1013, "Filter failure: MAX_NUM_ORDERS")


def test_market_order_without_any_price_is_refused():
    engine = MatchingEngine(RULES, balances={"USDT": D(1000)})
    with pytest.raises(OrderRejected) as info:
        engine.submit(order(side="BUY", type="MARKET", quantity="0.01"), T0)
    assert (info.value.code, info.value.venue_message) == (-1112, "No orders on book for symbol.")


def test_unknown_endpoint_is_unsupported():
    engine = fresh()
    with pytest.raises(Exception) as info:
        engine.submit(ExchangeRequest("POST", "/api/v3/order/cancelReplace", ()), T0)
    assert info.value.code == -1020
