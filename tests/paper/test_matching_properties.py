"""Hypothesis properties of the paper matching engine over random sequences of orders, lists,
cancels and prices: balances never negative, free+locked moves only by fills and commission,
fills never exceed the order, and the JSON state round-trips exactly."""

from __future__ import annotations

import json
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planrunner.errors import ExchangeError
from planrunner.exchanges.base import ExchangeRequest
from planrunner.exchanges.paper.matching import MatchingEngine
from planrunner.exchanges.rules import builtin_rules

T0 = 1_700_000_000_000
RULES = builtin_rules()
START = {"USDT": D("20000"), "BTC": D("1")}

prices = st.integers(min_value=800_000, max_value=1_200_000).map(lambda c: D(c).scaleb(-2))
qtys = st.integers(min_value=50, max_value=30_000).map(lambda u: D(u).scaleb(-5))
sides = st.sampled_from(["BUY", "SELL"])


def req(path: str, **params: str) -> ExchangeRequest:
    return ExchangeRequest("POST", path, tuple({"symbol": "BTCUSDT", **params}.items()))


@st.composite
def plain_order(draw) -> ExchangeRequest:
    kind = draw(st.sampled_from(["MARKET", "LIMIT", "LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT",
                                 "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "TRAILING"]))
    side, qty, price = draw(sides), str(draw(qtys)), str(draw(prices))
    if kind == "MARKET":
        return req("/api/v3/order", side=side, type="MARKET", quantity=qty)
    if kind == "LIMIT":
        tif = draw(st.sampled_from(["GTC", "IOC", "FOK"]))
        return req("/api/v3/order", side=side, type="LIMIT", quantity=qty, price=price, timeInForce=tif)
    if kind == "LIMIT_MAKER":
        return req("/api/v3/order", side=side, type="LIMIT_MAKER", quantity=qty, price=price)
    if kind == "TRAILING":
        return req("/api/v3/order", side=side, type="STOP_LOSS", quantity=qty,
                   trailingDelta=str(draw(st.integers(10, 500))))
    extra = {"price": str(draw(prices)), "timeInForce": "GTC"} if kind.endswith("LIMIT") else {}
    return req("/api/v3/order", side=side, type=kind, quantity=qty, stopPrice=price, **extra)


@st.composite
def order_list(draw) -> ExchangeRequest:
    low, high = sorted(draw(st.lists(prices, min_size=2, max_size=2, unique=True)))
    qty = str(draw(qtys))
    kind = draw(st.sampled_from(["oco", "otoco", "opoco"]))
    if kind == "oco":
        return req("/api/v3/orderList/oco", side="SELL", quantity=qty, aboveType="LIMIT_MAKER",
                   abovePrice=str(high), belowType="STOP_LOSS", belowStopPrice=str(low))
    entry = str(draw(prices))
    params = dict(workingType="LIMIT", workingSide="BUY", workingPrice=entry, workingQuantity=qty,
                  workingTimeInForce="GTC", pendingSide="SELL", pendingAboveType="LIMIT_MAKER",
                  pendingAbovePrice=str(high), pendingBelowType="STOP_LOSS_LIMIT",
                  pendingBelowStopPrice=str(low), pendingBelowPrice=str(low), pendingBelowTimeInForce="GTC")
    if kind == "otoco":
        params["pendingQuantity"] = str(D(qty) * D("0.999"))[:7]
    return req(f"/api/v3/orderList/{kind}", **params)


steps = st.lists(st.one_of(
    prices.map(lambda p: ("price", p)),
    plain_order().map(lambda r: ("submit", r)),
    order_list().map(lambda r: ("submit", r)),
    st.integers(1, 12).map(lambda i: ("cancel", i)),
), min_size=1, max_size=25)


def run(engine: MatchingEngine, ops) -> None:
    for n, (op, arg) in enumerate(ops):
        now = T0 + 1000 * (n + 1)
        try:
            if op == "price":
                engine.set_price("BTCUSDT", arg, now)
            elif op == "submit":
                engine.submit(arg, now)
            else:
                engine.cancel_order("BTCUSDT", order_id=arg, now_ms=now)
        except ExchangeError:
            pass
        check_invariants(engine)


def expected_totals(engine: MatchingEngine) -> dict[str, D]:
    totals = dict(START)
    sides_by_id = {o.order_id: o.side for o in engine.all_orders()}
    for order in engine.all_orders():
        for fill in order.fills:
            sign = 1 if sides_by_id[order.order_id] == "BUY" else -1
            totals["BTC"] += sign * fill.qty
            totals["USDT"] -= sign * fill.qty * fill.price
            totals[fill.commission_asset] -= fill.commission
    return totals


def check_invariants(engine: MatchingEngine) -> None:
    balances = {b.asset: b for b in engine.balances()}
    for b in balances.values():
        assert b.free >= 0 and b.locked >= 0, b
    for asset, total in expected_totals(engine).items():
        held = balances[asset].free + balances[asset].locked if asset in balances else D(0)
        assert held == total, (asset, held, total)
    for order in engine.all_orders():
        assert 0 <= order.executed_qty <= order.orig_qty, order
        assert sum((f.qty for f in order.fills), D(0)) == order.executed_qty
    if not engine.open_orders():
        assert all(b.locked == 0 for b in balances.values())


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(ops=steps)
def test_invariants_hold_over_random_sequences(ops):
    engine = MatchingEngine(RULES, balances=START)
    engine.set_price("BTCUSDT", D("10000"), T0)
    run(engine, ops)


@FAST
@given(ops=steps, after=st.lists(prices, min_size=1, max_size=5))
def test_state_round_trips_and_restored_engine_behaves_the_same(ops, after):
    engine = MatchingEngine(RULES, balances=START)
    engine.set_price("BTCUSDT", D("10000"), T0)
    run(engine, ops)
    data = json.loads(json.dumps(engine.to_dict()))
    restored = MatchingEngine.from_dict(data, RULES)
    assert restored.to_dict() == engine.to_dict()
    for i, price in enumerate(after):
        now = T0 + 10_000_000 + i
        assert restored.set_price("BTCUSDT", price, now) == engine.set_price("BTCUSDT", price, now)
    assert restored.to_dict() == engine.to_dict()
    assert restored.balances() == engine.balances()


def test_from_dict_refuses_malformed_state_with_a_clear_message():
    engine = MatchingEngine(RULES, balances=START)
    good = engine.to_dict()
    for broken in ({}, {**good, "format": 99}, {**good, "orders": [{"order_id": "x"}]},
                   {**good, "ledger": {"free": {"USDT": 1.5}, "holds": {}}},
                   {**good, "counters": {"order_id": 1}}):
        try:
            MatchingEngine.from_dict(broken, RULES)
        except ValueError as exc:
            assert "paper exchange state is malformed" in str(exc)
        else:
            raise AssertionError(f"accepted malformed state {broken!r}")
