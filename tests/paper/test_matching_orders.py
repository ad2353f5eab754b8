"""Fill and trigger paths of every single order type, with exact balance and commission arithmetic,
plus cancel, query and trade-list behaviour of the paper matching engine."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from planrunner.errors import OrderNotFound, OrderRejected
from planrunner.exchanges.base import Commission, ExchangeRequest, OrderStatus
from planrunner.exchanges.paper.matching import MatchingEngine
from planrunner.exchanges.rules import builtin_rules

T0 = 1_700_000_000_000
RULES = builtin_rules()
FEES = Commission(maker=D("0.0005"), taker=D("0.001"))


def order(**params: str) -> ExchangeRequest:
    params = {"symbol": "BTCUSDT", **params}
    return ExchangeRequest("POST", "/api/v3/order", tuple(params.items()))


def fresh(usdt: str = "100000", btc: str = "10") -> MatchingEngine:
    engine = MatchingEngine(RULES, commission=FEES, balances={"USDT": D(usdt), "BTC": D(btc)})
    engine.set_price("BTCUSDT", D("10000"), T0)
    return engine


def balance(engine: MatchingEngine, asset: str) -> tuple[D, D]:
    for b in engine.balances():
        if b.asset == asset:
            return b.free, b.locked
    return D(0), D(0)


def move(engine: MatchingEngine, *prices: str) -> list:
    changed = []
    for i, price in enumerate(prices, start=1):
        changed.extend(engine.set_price("BTCUSDT", D(price), T0 + 1000 * i))
    return changed


def test_market_buy_fills_at_last_price_and_charges_taker_fee_in_base():
    engine = fresh()
    snap = engine.submit(order(side="BUY", type="MARKET", quantity="0.01"), T0 + 1)
    assert snap.status is OrderStatus.FILLED
    assert (snap.executed_qty, snap.cumulative_quote_qty) == (D("0.01"), D("100.00"))
    (fill,) = snap.fills
    assert (fill.price, fill.qty, fill.commission, fill.commission_asset, fill.is_maker) == \
        (D("10000"), D("0.01"), D("0.00001000"), "BTC", False)
    assert balance(engine, "USDT") == (D("99900.00"), D(0))
    assert balance(engine, "BTC") == (D("10.00999000"), D(0))


def test_market_sell_charges_fee_in_quote():
    engine = fresh()
    engine.submit(order(side="SELL", type="MARKET", quantity="0.5"), T0)
    assert balance(engine, "BTC") == (D("9.5"), D(0))
    assert balance(engine, "USDT") == (D("104995.00000000"), D(0))


def test_market_buy_by_quote_quantity_rounds_down_to_step():
    engine = MatchingEngine(RULES, balances={"USDT": D("100")})
    engine.set_price("BTCUSDT", D("7195.24"), T0)
    snap = engine.submit(order(side="BUY", type="MARKET", quoteOrderQty="100"), T0)
    assert (snap.orig_qty, snap.executed_qty, snap.orig_quote_order_qty) == (D("0.01389"), D("0.01389"), D("100"))
    assert snap.cumulative_quote_qty == D("99.9418836")
    assert balance(engine, "USDT") == (D("0.0581164"), D(0))
    assert balance(engine, "BTC") == (D("0.01387611"), D(0))


def test_resting_limit_locks_quote_then_fills_at_its_own_price_as_maker():
    engine = fresh()
    snap = engine.submit(order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.1", price="9000"), T0)
    assert snap.status is OrderStatus.NEW
    assert balance(engine, "USDT") == (D("99100.0"), D("900.0"))
    assert move(engine, "9100") == []
    (changed,) = move(engine, "8990.55")
    assert changed.status is OrderStatus.FILLED and changed.fills[0].price == D("9000")
    assert changed.fills[0].is_maker and changed.fills[0].commission == D("0.00005000")
    assert balance(engine, "USDT") == (D("99100.0"), D(0))
    assert balance(engine, "BTC") == (D("10.09995000"), D(0))


def test_limit_crossing_at_placement_takes_at_last_price_and_unlocks_the_rest():
    engine = fresh()
    snap = engine.submit(order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.1", price="10100"), T0)
    assert snap.status is OrderStatus.FILLED
    assert snap.fills[0].price == D("10000") and not snap.fills[0].is_maker
    assert balance(engine, "USDT") == (D("99000.0"), D(0))


def test_limit_sell_resting_fills_when_price_rises_to_it():
    engine = fresh()
    engine.submit(order(side="SELL", type="LIMIT", timeInForce="GTC", quantity="1", price="10500"), T0)
    assert balance(engine, "BTC") == (D("9"), D("1"))
    move(engine, "10499.99", "10600")
    assert engine.query_order("BTCUSDT", order_id=1).status is OrderStatus.FILLED
    assert balance(engine, "USDT") == (D("110494.7500"), D(0))  # 10500 - 0.05% maker fee


@pytest.mark.parametrize("tif, reason", [("IOC", "UNFILLED_IOC_QUANTITY_EXPIRED"),
                                         ("FOK", "UNFILLED_FOK_ORDER_EXPIRED")])
def test_ioc_and_fok_that_do_not_cross_expire_and_unlock(tif, reason):
    engine = fresh()
    snap = engine.submit(order(side="BUY", type="LIMIT", timeInForce=tif, quantity="0.1", price="9000"), T0)
    assert (snap.status, snap.expiry_reason) == (OrderStatus.EXPIRED, reason)
    assert balance(engine, "USDT") == (D("100000"), D(0))
    assert engine.open_orders() == ()


STOP_PATHS = [
    # type, side, stop, limit price, price path, expected fill price, maker
    ("STOP_LOSS", "SELL", "9500", None, ["9600", "9500"], "9500", False),
    ("STOP_LOSS", "BUY", "10500", None, ["10400", "10600"], "10600", False),
    ("TAKE_PROFIT", "SELL", "10500", None, ["10500.01"], "10500.01", False),
    ("TAKE_PROFIT", "BUY", "9000", None, ["9100", "8990"], "8990", False),
    ("STOP_LOSS_LIMIT", "SELL", "9500", "9400", ["9450"], "9450", False),
    ("STOP_LOSS_LIMIT", "SELL", "9500", "9400", ["9300", "9350", "9400"], "9400", True),
    ("TAKE_PROFIT_LIMIT", "SELL", "10500", "10500", ["10500"], "10500", False),
    ("TAKE_PROFIT_LIMIT", "BUY", "9000", "9010", ["9000"], "9000", False),
    ("STOP_LOSS_LIMIT", "BUY", "10500", "10600", ["10700", "10650", "10600"], "10600", True),
]


@pytest.mark.parametrize("otype, side, stop, price, path, fill_price, maker", STOP_PATHS)
def test_stop_orders_trigger_and_fill(otype, side, stop, price, path, fill_price, maker):
    engine = fresh()
    params = {"side": side, "type": otype, "quantity": "0.1", "stopPrice": stop}
    if price is not None:
        params |= {"price": price, "timeInForce": "GTC"}
    placed = engine.submit(order(**params), T0)
    assert placed.status is OrderStatus.NEW and placed.fills == ()
    move(engine, *path[:-1])
    assert engine.query_order("BTCUSDT", order_id=1).status is OrderStatus.NEW
    move(engine, path[-1])
    done = engine.query_order("BTCUSDT", order_id=1)
    assert done.status is OrderStatus.FILLED
    assert (done.fills[0].price, done.fills[0].is_maker) == (D(fill_price), maker)
    assert all(b.locked == 0 for b in engine.balances())


def test_triggered_stop_limit_with_ioc_that_does_not_cross_expires():
    engine = fresh()
    engine.submit(order(side="SELL", type="STOP_LOSS_LIMIT", quantity="0.1", stopPrice="9500",
                        price="9400", timeInForce="IOC"), T0)
    move(engine, "9300")
    snap = engine.query_order("BTCUSDT", order_id=1)
    assert (snap.status, snap.expiry_reason) == (OrderStatus.EXPIRED, "UNFILLED_IOC_QUANTITY_EXPIRED")
    assert balance(engine, "BTC") == (D("10"), D(0))


def test_trailing_sell_stop_triggers_on_drop_from_high_since_placement():
    engine = fresh()
    engine.submit(order(side="SELL", type="STOP_LOSS", quantity="0.1", trailingDelta="100"), T0)
    move(engine, "10000", "10500", "10395.01")
    assert engine.query_order("BTCUSDT", order_id=1).status is OrderStatus.NEW
    move(engine, "10395")  # 1% below the 10500 high
    snap = engine.query_order("BTCUSDT", order_id=1)
    assert snap.status is OrderStatus.FILLED and snap.fills[0].price == D("10395")


def test_trailing_buy_stop_triggers_on_rise_from_low():
    engine = fresh()
    engine.submit(order(side="BUY", type="STOP_LOSS", quantity="0.1", trailingDelta="100"), T0)
    move(engine, "10000", "9000", "9089.99")
    assert engine.query_order("BTCUSDT", order_id=1).status is OrderStatus.NEW
    move(engine, "9090")
    assert engine.query_order("BTCUSDT", order_id=1).fills[0].price == D("9090")


def test_trailing_with_stop_price_tracks_only_after_activation():
    engine = fresh()
    engine.submit(order(side="SELL", type="TAKE_PROFIT", quantity="0.1", stopPrice="11000",
                        trailingDelta="200"), T0)
    move(engine, "10900", "10500")  # a 3.7% drop before activation does nothing
    move(engine, "11000", "11500", "11270.01")
    assert engine.query_order("BTCUSDT", order_id=1).status is OrderStatus.NEW
    move(engine, "11270")  # 2% below the 11500 high
    assert engine.query_order("BTCUSDT", order_id=1).status is OrderStatus.FILLED


def test_cancel_releases_funds_and_second_cancel_is_unknown():
    engine = fresh()
    engine.submit(order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.1", price="9000",
                        newClientOrderId="a1"), T0)
    snap = engine.cancel_order("BTCUSDT", client_order_id="a1", now_ms=T0 + 5)
    assert (snap.status, snap.update_time_ms) == (OrderStatus.CANCELED, T0 + 5)
    assert balance(engine, "USDT") == (D("100000.0"), D(0))
    for kwargs in ({"client_order_id": "a1"}, {"order_id": 1}, {"order_id": 42}):
        with pytest.raises(OrderRejected) as info:
            engine.cancel_order("BTCUSDT", now_ms=T0, **kwargs)
        assert (info.value.code, info.value.venue_message) == (-2011, "Unknown order sent.")


def test_query_unknown_order_and_id_mismatch():
    engine = fresh()
    with pytest.raises(OrderNotFound) as info:
        engine.query_order("BTCUSDT", client_order_id="nope")
    assert (info.value.code, info.value.venue_message) == (-2013, "Order does not exist.")
    engine.submit(order(side="SELL", type="MARKET", quantity="0.01", newClientOrderId="x"), T0)
    with pytest.raises(OrderRejected) as mismatch:
        engine.query_order("BTCUSDT", order_id=1, client_order_id="y")
    assert mismatch.value.code == -2039
    with pytest.raises(OrderNotFound):
        engine.query_order("ETHUSDT", order_id=1)
    with pytest.raises(OrderRejected) as neither:
        engine.query_order("BTCUSDT")
    assert neither.value.code == -1102


def test_generated_client_ids_are_22_alphanumerics_and_distinct():
    engine = fresh()
    ids = {engine.submit(order(side="SELL", type="MARKET", quantity="0.01"), T0).client_order_id
           for _ in range(3)}
    assert len(ids) == 3
    assert all(len(i) == 22 and i.isalnum() for i in ids)


def test_trades_have_increasing_ids_and_filter_by_order():
    engine = fresh()
    engine.submit(order(side="SELL", type="MARKET", quantity="0.01"), T0)
    engine.submit(order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.02", price="9000"), T0)
    engine.submit(order(side="BUY", type="MARKET", quantity="0.03"), T0)
    move(engine, "8999")
    trades = engine.trades("BTCUSDT")
    assert [t.trade_id for t in trades] == [1, 2, 3]
    assert [t.qty for t in engine.trades("BTCUSDT", order_id=2)] == [D("0.02")]
    assert engine.trades("ETHUSDT") == ()


def test_open_and_all_orders_and_changed_snapshots():
    engine = fresh()
    engine.submit(order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price="9000"), T0)
    engine.submit(order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price="8000"), T0)
    engine.submit(order(side="SELL", type="MARKET", quantity="0.01"), T0)
    assert [o.order_id for o in engine.open_orders("BTCUSDT")] == [1, 2]
    assert [o.order_id for o in engine.all_orders()] == [1, 2, 3]
    assert [o.order_id for o in move(engine, "8500")] == [1]
    assert engine.open_orders("ETHUSDT") == ()


def test_unknown_symbol_price_and_bad_price_are_refused():
    engine = fresh()
    with pytest.raises(OrderRejected) as info:
        engine.set_price("NOPE", D(1), T0)
    assert info.value.code == -1121
    with pytest.raises(ValueError):
        engine.set_price("BTCUSDT", D(0), T0)
    assert engine.last_price("BTCUSDT") == D("10000") and engine.last_price("ETHUSDT") is None
