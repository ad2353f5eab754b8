"""Order lists in the paper matching engine: OCO, OTO, OTOCO, OPO, OPOCO placement, activation after a
full fill, OPO sizing net of commission, one-cancels-other, cancel-one-cancels-list, rejections."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from planrunner.errors import OrderNotFound, OrderRejected
from planrunner.exchanges.base import ExchangeRequest, OrderStatus
from planrunner.exchanges.paper.matching import MatchingEngine
from planrunner.exchanges.rules import builtin_rules

T0 = 1_700_000_000_000
RULES = builtin_rules()
NEW, PENDING, FILLED = OrderStatus.NEW, OrderStatus.PENDING_NEW, OrderStatus.FILLED
EXPIRED, CANCELED = OrderStatus.EXPIRED, OrderStatus.CANCELED


def lst(kind: str, **params: str) -> ExchangeRequest:
    params = {"symbol": "BTCUSDT", **params}
    return ExchangeRequest("POST", f"/api/v3/orderList/{kind}",
                           tuple((k, v) for k, v in params.items() if v is not None))


def fresh(usdt: str = "100000", btc: str = "10", rules=None) -> MatchingEngine:
    engine = MatchingEngine(rules or RULES, balances={"USDT": D(usdt), "BTC": D(btc)})
    engine.set_price("BTCUSDT", D("10000"), T0)
    return engine


def balance(engine: MatchingEngine, asset: str) -> tuple[D, D]:
    found = [(b.free, b.locked) for b in engine.balances() if b.asset == asset]
    return found[0] if found else (D(0), D(0))


def move(engine: MatchingEngine, *prices: str) -> None:
    for i, price in enumerate(prices, start=1):
        engine.set_price("BTCUSDT", D(price), T0 + 1000 * i)


def statuses(engine: MatchingEngine, list_id: int = 1) -> list[tuple[str, OrderStatus, str | None]]:
    snap = engine.query_order_list(order_list_id=list_id)
    return [(o.type, o.status, o.expiry_reason) for o in snap.orders]


SELL_OCO = dict(side="SELL", quantity="0.1", aboveType="LIMIT_MAKER", abovePrice="11000",
                belowType="STOP_LOSS_LIMIT", belowStopPrice="9000", belowPrice="8900",
                belowTimeInForce="GTC")
ENTRY = dict(workingType="LIMIT", workingSide="BUY", workingPrice="9000", workingQuantity="0.1",
             workingTimeInForce="GTC")
EXITS = dict(pendingSide="SELL", pendingAboveType="LIMIT_MAKER", pendingAbovePrice="11000",
             pendingBelowType="STOP_LOSS", pendingBelowStopPrice="8500")


def test_sell_oco_locks_once_and_limit_fill_expires_the_stop():
    engine = fresh()
    snap = engine.submit(lst("oco", **SELL_OCO), T0)
    assert (snap.contingency_type, snap.list_status_type, snap.list_order_status) == \
        ("OCO", "EXEC_STARTED", "EXECUTING")
    assert [o.status for o in snap.orders] == [NEW, NEW]
    assert balance(engine, "BTC") == (D("9.9"), D("0.1"))
    move(engine, "10999", "11000")
    assert statuses(engine) == [("LIMIT_MAKER", FILLED, None),
                                ("STOP_LOSS_LIMIT", EXPIRED, "OCO_TRIGGER")]
    done = engine.query_order_list(order_list_id=1)
    assert (done.list_status_type, done.list_order_status) == ("ALL_DONE", "ALL_DONE")
    assert balance(engine, "BTC") == (D("9.9"), D(0))
    assert balance(engine, "USDT") == (D("101098.90000000"), D(0))


def test_sell_oco_stop_trigger_expires_the_limit_and_fills_the_stop_limit():
    engine = fresh()
    engine.submit(lst("oco", **SELL_OCO), T0)
    move(engine, "9000")
    assert statuses(engine) == [("LIMIT_MAKER", EXPIRED, "OCO_TRIGGER"),
                                ("STOP_LOSS_LIMIT", FILLED, None)]
    assert engine.query_order("BTCUSDT", order_id=2).fills[0].price == D("9000")
    assert balance(engine, "BTC") == (D("9.9"), D(0))


def test_buy_oco_locks_the_larger_leg_and_releases_the_rest_on_fill():
    engine = fresh()
    engine.submit(lst("oco", side="BUY", quantity="0.1", aboveType="STOP_LOSS", aboveStopPrice="11000",
                      belowType="LIMIT_MAKER", belowPrice="9000"), T0)
    assert balance(engine, "USDT") == (D("98900.0"), D("1100.0"))
    move(engine, "8990")
    assert statuses(engine) == [("STOP_LOSS", EXPIRED, "OCO_TRIGGER"), ("LIMIT_MAKER", FILLED, None)]
    assert balance(engine, "USDT") == (D("99100.0"), D(0))


def test_cancel_one_oco_leg_cancels_the_list():
    engine = fresh()
    engine.submit(lst("oco", listClientOrderId="protect", aboveClientOrderId="tp", **SELL_OCO), T0)
    snap = engine.cancel_order("BTCUSDT", client_order_id="tp", now_ms=T0 + 9)
    assert snap.status is CANCELED
    assert [s for _, s, _ in statuses(engine)] == [CANCELED, CANCELED]
    assert engine.query_order_list(list_client_order_id="protect").list_order_status == "ALL_DONE"
    assert balance(engine, "BTC") == (D("10.0"), D(0))


OCO_REJECTIONS = [
    ("price relation", dict(SELL_OCO, abovePrice="9999.99"), -2010,
     "The relationship of the prices for the orders is not correct."),
    ("stop above market", dict(SELL_OCO, belowStopPrice="10000"), -2010,
     "The relationship of the prices for the orders is not correct."),
    ("limit leg", dict(SELL_OCO, aboveType="LIMIT", aboveTimeInForce="GTC"), -1158,
     "Order type not supported in OCO."),
    ("both makers", dict(SELL_OCO, belowType="LIMIT_MAKER", belowPrice="9000", belowStopPrice=None,
                         belowTimeInForce=None), -1168, "At least one OCO order must be contingent."),
    ("sell stop above", dict(SELL_OCO, aboveType="STOP_LOSS", abovePrice=None, aboveStopPrice="9000"),
     -1197, "A stop loss order in a sell OCO must be below."),
    ("sell maker below", dict(SELL_OCO, aboveType="TAKE_PROFIT", abovePrice=None, aboveStopPrice="11000",
                              belowType="LIMIT_MAKER", belowPrice="9000", belowStopPrice=None,
                              belowTimeInForce=None), -1166, "A limit order in a sell OCO must be above."),
    ("sell tp below", dict(SELL_OCO, aboveType="TAKE_PROFIT", abovePrice=None, aboveStopPrice="11000",
                           belowType="TAKE_PROFIT", belowPrice=None, belowTimeInForce=None), -1199,
     "A take profit order in a sell OCO must be above."),
    ("buy stop below", dict(side="BUY", quantity="0.1", aboveType="LIMIT_MAKER", abovePrice="9000",
                            belowType="STOP_LOSS", belowStopPrice="11000"), -1196,
     "A stop loss order in a buy OCO must be above."),
    ("buy maker above", dict(side="BUY", quantity="0.1", aboveType="LIMIT_MAKER", abovePrice="9000",
                             belowType="TAKE_PROFIT", belowStopPrice="9000"), -1165,
     "A limit order in a buy OCO must be below."),
    ("buy tp above", dict(side="BUY", quantity="0.1", aboveType="TAKE_PROFIT", aboveStopPrice="9000",
                          belowType="TAKE_PROFIT", belowStopPrice="8000"), -1198,
     "A take profit order in a buy OCO must be below."),
    ("no quantity", dict(SELL_OCO, quantity=None), -1102,
     "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."),
    ("no below type", dict(SELL_OCO, belowType=None), -1102,
     "Mandatory parameter 'belowType' was not sent, was empty/null, or malformed."),
    ("leg lot size", dict(SELL_OCO, quantity="0.000015"), -1013, "Filter failure: LOT_SIZE"),
    ("leg tif missing", dict(SELL_OCO, belowTimeInForce=None), -1102,
     "Mandatory parameter 'belowTimeInForce' was not sent, was empty/null, or malformed."),
]


@pytest.mark.parametrize("params, code, message", [c[1:] for c in OCO_REJECTIONS],
                         ids=[c[0] for c in OCO_REJECTIONS])
def test_oco_rejections(params, code, message):
    engine = fresh()
    before = engine.to_dict()
    with pytest.raises(OrderRejected) as info:
        engine.submit(lst("oco", **params), T0)
    assert (info.value.code, info.value.venue_message) == (code, message)
    assert engine.to_dict() == before


def test_oto_pending_leg_waits_for_full_fill_then_works():
    engine = fresh(btc="0")
    snap = engine.submit(lst("oto", pendingType="LIMIT", pendingSide="SELL", pendingPrice="11000",
                             pendingQuantity="0.0999", pendingTimeInForce="GTC", **ENTRY), T0)
    assert snap.contingency_type == "OTO"
    assert [o.status for o in snap.orders] == [NEW, PENDING]
    assert balance(engine, "USDT") == (D("99100.0"), D("900.0"))
    move(engine, "9000")
    assert [s for _, s, _ in statuses(engine)] == [FILLED, NEW]
    assert balance(engine, "BTC") == (D("0.0000"), D("0.0999"))
    move(engine, "11000")
    assert [s for _, s, _ in statuses(engine)] == [FILLED, FILLED]
    assert engine.query_order_list(order_list_id=1).list_order_status == "ALL_DONE"
    assert balance(engine, "BTC") == (D("0.0000"), D(0))


def test_oto_response_shows_pending_new_even_when_working_fills_at_once():
    engine = fresh()
    snap = engine.submit(lst("oto", **dict(ENTRY, workingPrice="10100"), pendingType="LIMIT_MAKER",
                             pendingSide="SELL", pendingPrice="11000", pendingQuantity="0.0999"), T0)
    assert [o.status for o in snap.orders] == [FILLED, PENDING]
    assert engine.query_order("BTCUSDT", order_id=2).status is NEW


def test_oto_pending_leg_rejected_at_activation_expires_with_reason_rejected():
    engine = fresh(btc="0")
    engine.submit(lst("oto", pendingType="LIMIT", pendingSide="SELL", pendingPrice="11000",
                      pendingQuantity="0.1", pendingTimeInForce="GTC", **ENTRY), T0)
    move(engine, "8999")  # receives 0.0999 BTC net of commission: not enough for 0.1
    assert statuses(engine) == [("LIMIT", FILLED, None), ("LIMIT", EXPIRED, "REJECTED")]
    assert engine.query_order_list(order_list_id=1).list_order_status == "ALL_DONE"
    assert balance(engine, "BTC") == (D("0.0999"), D(0))


def test_cancel_pending_leg_cancels_working_order_and_releases_funds():
    engine = fresh()
    engine.submit(lst("oto", pendingType="STOP_LOSS", pendingSide="SELL", pendingStopPrice="8000",
                      pendingQuantity="0.1", **ENTRY), T0)
    engine.cancel_order("BTCUSDT", order_id=2, now_ms=T0 + 1)
    assert [s for _, s, _ in statuses(engine)] == [CANCELED, CANCELED]
    assert balance(engine, "USDT") == (D("100000.0"), D(0))


def test_working_ioc_that_expires_expires_the_pending_legs():
    engine = fresh()
    engine.submit(lst("oto", **dict(ENTRY, workingTimeInForce="IOC"), pendingType="LIMIT_MAKER",
                      pendingSide="SELL", pendingPrice="11000", pendingQuantity="0.1"), T0)
    assert statuses(engine) == [("LIMIT", EXPIRED, "UNFILLED_IOC_QUANTITY_EXPIRED"),
                                ("LIMIT_MAKER", EXPIRED, "OTO_PHASE_ONE_EXPIRED")]


def test_otoco_arms_an_oco_after_the_entry_fills():
    engine = fresh(btc="0")
    snap = engine.submit(lst("otoco", pendingQuantity="0.0999", **ENTRY, **EXITS), T0)
    assert [o.status for o in snap.orders] == [NEW, PENDING, PENDING]
    move(engine, "9000")
    assert [s for _, s, _ in statuses(engine)] == [FILLED, NEW, NEW]
    assert balance(engine, "BTC") == (D("0.0000"), D("0.0999"))
    move(engine, "8600", "8400")
    assert statuses(engine) == [("LIMIT", FILLED, None), ("LIMIT_MAKER", EXPIRED, "OCO_TRIGGER"),
                                ("STOP_LOSS", FILLED, None)]
    assert engine.query_order("BTCUSDT", order_id=3).fills[0].price == D("8400")
    assert balance(engine, "BTC") == (D("0.0000"), D(0))


def test_otoco_legs_that_would_trigger_at_activation_expire_rejected():
    engine = fresh()
    engine.submit(lst("otoco", pendingQuantity="0.0999", **ENTRY, **EXITS), T0)
    move(engine, "8000")  # entry fills at 9000 as maker, but the stop (8500) is already crossed
    assert statuses(engine) == [("LIMIT", FILLED, None), ("LIMIT_MAKER", EXPIRED, "REJECTED"),
                                ("STOP_LOSS", EXPIRED, "REJECTED")]


def test_opo_sizes_pending_leg_from_quantity_received_net_of_commission():
    engine = fresh(btc="0")
    snap = engine.submit(lst("opo", **dict(ENTRY, workingQuantity="0.12345"), pendingType="LIMIT",
                             pendingSide="SELL", pendingPrice="11000", pendingTimeInForce="GTC"), T0)
    assert snap.orders[1].orig_qty == 0 and snap.orders[1].status is PENDING
    move(engine, "9000")
    leg = engine.query_order("BTCUSDT", order_id=2)
    assert (leg.status, leg.orig_qty) == (NEW, D("0.12332"))  # 0.12345 - 0.00012345, floored to step
    assert balance(engine, "BTC") == (D("0.00000655"), D("0.12332"))


def test_opoco_sizes_both_exits_and_shares_one_lock():
    engine = fresh(btc="0")
    engine.submit(lst("opoco", **ENTRY, **EXITS), T0)
    move(engine, "9000")
    legs = [engine.query_order("BTCUSDT", order_id=i) for i in (2, 3)]
    assert [(o.status, o.orig_qty) for o in legs] == [(NEW, D("0.0999")), (NEW, D("0.0999"))]
    assert balance(engine, "BTC") == (D("0.0000"), D("0.0999"))
    move(engine, "11000")
    assert statuses(engine)[1:] == [("LIMIT_MAKER", FILLED, None), ("STOP_LOSS", EXPIRED, "OCO_TRIGGER")]
    assert balance(engine, "USDT") == (D("100197.80110000"), D(0))  # 100000 - 900 + 1098.9 - 1.0989


LIST_REJECTIONS = [
    ("opo sell working", "opo", dict(ENTRY, workingSide="SELL", pendingType="LIMIT_MAKER",
                                     pendingSide="SELL", pendingPrice="11000"),
     -1222, "Working order in an OPO list must be a bid."),
    ("opo buy pending", "opo", dict(ENTRY, pendingType="LIMIT_MAKER", pendingSide="BUY",
                                    pendingPrice="8000"),
     -1223, "Pending orders in an OPO list must be asks."),
    ("opo with quantity", "opo", dict(ENTRY, pendingType="LIMIT_MAKER", pendingSide="SELL",
                                      pendingPrice="11000", pendingQuantity="0.1"),
     -1106, "Parameter 'pendingQuantity' sent when not required."),
    ("oto market working", "oto", dict(ENTRY, workingType="MARKET", workingPrice=None,
                                       workingTimeInForce=None, pendingType="LIMIT_MAKER",
                                       pendingSide="SELL", pendingPrice="11000", pendingQuantity="0.1"),
     -1014, "Unsupported order combination."),
    ("oto no pending qty", "oto", dict(ENTRY, pendingType="LIMIT_MAKER", pendingSide="SELL",
                                       pendingPrice="11000"),
     -1102, "Mandatory parameter 'pendingQuantity' was not sent, was empty/null, or malformed."),
    ("otoco bad pending prices", "otoco", dict(ENTRY, **dict(EXITS, pendingAbovePrice="8000"),
                                               pendingQuantity="0.1"),
     -2010, "The relationship of the prices for the orders is not correct."),
    ("working maker takes", "oto", dict(ENTRY, workingType="LIMIT_MAKER", workingPrice="10000",
                                        workingTimeInForce=None, pendingType="LIMIT_MAKER",
                                        pendingSide="SELL", pendingPrice="11000", pendingQuantity="0.1"),
     -2010, "Order would immediately match and take."),
    ("otoco funds", "otoco", dict(ENTRY, workingQuantity="20", **EXITS, pendingQuantity="20"),
     -2010, "Account has insufficient balance for requested action."),
]


@pytest.mark.parametrize("kind, params, code, message", [c[1:] for c in LIST_REJECTIONS],
                         ids=[c[0] for c in LIST_REJECTIONS])
def test_list_rejections(kind, params, code, message):
    engine = fresh()
    before = engine.to_dict()
    with pytest.raises(OrderRejected) as info:
        engine.submit(lst(kind, **params), T0)
    assert (info.value.code, info.value.venue_message) == (code, message)
    assert engine.to_dict() == before


@pytest.mark.parametrize("flag, kind, message", [
    ("oco_allowed", "oco", "OCO orders are not supported for this symbol"),
    ("oto_allowed", "otoco", "OTO orders are not supported for this symbol."),
    ("opo_allowed", "opoco", "OPO orders are not supported for this symbol."),
])
def test_list_feature_flags(flag, kind, message):
    rules = dict(RULES, BTCUSDT=replace(RULES["BTCUSDT"], **{flag: False}))
    with pytest.raises(OrderRejected) as info:
        fresh(rules=rules).submit(lst(kind, **ENTRY, **EXITS), T0)
    assert (info.value.code, info.value.venue_message) == (-2010, message)


def test_duplicate_list_client_id_and_reuse_after_done():
    engine = fresh()
    engine.submit(lst("oco", listClientOrderId="L1", **SELL_OCO), T0)
    with pytest.raises(OrderRejected) as info:
        engine.submit(lst("oco", listClientOrderId="L1", **SELL_OCO), T0)
    assert info.value.venue_message == "Duplicate order sent."
    done = engine.cancel_order_list("BTCUSDT", list_client_order_id="L1", now_ms=T0 + 1)
    assert (done.list_status_type, [o.status for o in done.orders]) == ("ALL_DONE", [CANCELED, CANCELED])
    assert engine.submit(lst("oco", listClientOrderId="L1", **SELL_OCO), T0 + 2).order_list_id == 2
    assert engine.query_order_list(list_client_order_id="L1").order_list_id == 2
    with pytest.raises(OrderRejected) as again:
        engine.cancel_order_list("BTCUSDT", order_list_id=1, now_ms=T0 + 3)
    assert (again.value.code, again.value.venue_message) == (-2011, "Unknown order sent.")


def test_max_num_order_lists():
    rules = dict(RULES, BTCUSDT=replace(RULES["BTCUSDT"], max_num_order_lists=1))
    engine = fresh(rules=rules)
    engine.submit(lst("oco", **SELL_OCO), T0)
    with pytest.raises(OrderRejected) as info:
        engine.submit(lst("oco", **SELL_OCO), T0)
    assert (info.value.code, info.value.venue_message) == (-1013, "Filter failure: MAX_NUM_ORDER_LISTS")


def test_unknown_list_query():
    with pytest.raises(OrderNotFound) as info:
        fresh().query_order_list(order_list_id=7)
    assert (info.value.code, info.value.venue_message) == (-2013, "Order list does not exist.")
