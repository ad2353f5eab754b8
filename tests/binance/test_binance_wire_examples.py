"""Every official order / list / account / trade / exchangeInfo response example parsed into the
domain model, and malformed responses turned into errors that name the field."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from binance_fakes import order_json, shared_json

from planrunner.errors import ExchangeError, OrderNotFound, OrderRejected, RateLimited
from planrunner.exchanges.base import OrderListSnapshot, OrderSnapshot, OrderStatus
from planrunner.exchanges.binance import wire
from planrunner.exchanges.binance.errors import CallContext, classify, parse_reply

ORDER_ENDPOINTS = {"POST /api/v3/order", "DELETE /api/v3/order", "GET /api/v3/order",
                   "POST /api/v3/order/oco"}
ORDER_ARRAYS = {"GET /api/v3/openOrders", "GET /api/v3/allOrders", "DELETE /api/v3/openOrders"}
LIST_ENDPOINTS = {"POST /api/v3/orderList/oco", "POST /api/v3/orderList/oto",
                  "POST /api/v3/orderList/otoco", "POST /api/v3/orderList/opo",
                  "POST /api/v3/orderList/opoco", "DELETE /api/v3/orderList", "GET /api/v3/orderList"}
LIST_ARRAYS = {"GET /api/v3/allOrderList", "GET /api/v3/openOrderList"}


def _examples(*endpoints: str) -> list[dict[str, Any]]:
    data = shared_json("binance-spot-api-docs/spot-api-docs-examples.json")
    wanted = set(endpoints)
    return [e for e in data["examples"] if e.get("endpoint") in wanted]


def _is_list(obj: Any) -> bool:
    return isinstance(obj, dict) and "contingencyType" in obj


def _check_order(raw: dict[str, Any], parsed: OrderSnapshot) -> None:
    assert parsed.order_id == raw["orderId"]
    assert parsed.symbol == raw["symbol"]
    assert parsed.client_order_id == raw.get("origClientOrderId", raw["clientOrderId"])
    assert parsed.status is OrderStatus(raw["status"])
    assert parsed.orig_qty == Decimal(raw.get("origQty", "0"))  # OPO pending legs: none yet
    assert parsed.executed_qty == Decimal(raw.get("executedQty", "0"))
    assert parsed.stop_price == Decimal(raw.get("stopPrice", "0"))
    assert len(parsed.fills) == len(raw.get("fills", []))


def _check_list(raw: dict[str, Any], parsed: OrderListSnapshot) -> None:
    assert parsed.order_list_id == raw["orderListId"]
    assert parsed.list_client_order_id == raw["listClientOrderId"]
    assert parsed.contingency_type == raw["contingencyType"]
    reports = raw.get("orderReports", [])
    assert len(parsed.orders) == len(reports)
    for report, order in zip(reports, parsed.orders):
        _check_order(report, order)


def test_order_examples() -> None:
    examples = _examples(*ORDER_ENDPOINTS)
    assert len(examples) >= 5
    for example in examples:
        raw = example["parsed"]
        if "code" in raw:  # documented error bodies: definitive refusals of the cancel
            reply = parse_reply(400, json.dumps(raw).encode())
            error = classify(reply, CallContext("DELETE", "/api/v3/order"))
            assert isinstance(error, OrderRejected) and error.code == raw["code"]
            assert raw["msg"] in str(error)
        elif _is_list(raw):  # deprecated /order/oco answers with a list
            _check_list(raw, wire.parse_order_list(raw))
        elif wire.is_ack(raw):
            ref = wire.parse_ack(raw)
            assert (ref.order_id, ref.client_order_id) == (raw["orderId"], raw["clientOrderId"])
        else:
            _check_order(raw, wire.parse_order(raw))


def test_order_array_examples_including_mixed_cancel_all() -> None:
    examples = _examples(*ORDER_ARRAYS)
    assert len(examples) == 3
    for example in examples:
        for raw in example["parsed"]:
            if _is_list(raw):
                _check_list(raw, wire.parse_order_list(raw))
            else:
                _check_order(raw, wire.parse_order(raw))


def test_order_list_examples() -> None:
    examples = _examples(*LIST_ENDPOINTS) + [
        {"parsed": item} for e in _examples(*LIST_ARRAYS) for item in e["parsed"]]
    assert len(examples) >= 8
    for example in examples:
        raw = example["parsed"]
        _check_list(raw, wire.parse_order_list(raw))
        refs = wire.parse_leg_refs(raw)
        assert [r.order_id for r in refs] == [o["orderId"] for o in raw["orders"]]


def test_opo_pending_leg_has_no_quantity_yet() -> None:
    raw = _examples("POST /api/v3/orderList/opo")[0]["parsed"]
    working, pending = wire.parse_order_list(raw).orders
    assert working.orig_qty == Decimal("0.00060000")
    assert (pending.status, pending.orig_qty) == (OrderStatus.PENDING_NEW, Decimal(0))


def test_otoco_reports_oto_with_pending_legs() -> None:
    raw = _examples("POST /api/v3/orderList/otoco")[0]["parsed"]
    parsed = wire.parse_order_list(raw)
    assert parsed.contingency_type == "OTO"
    assert [o.status for o in parsed.orders] == [OrderStatus.NEW, OrderStatus.PENDING_NEW,
                                                 OrderStatus.PENDING_NEW]


def test_full_response_fills_are_decimals() -> None:
    raw = next(e["parsed"] for e in _examples("POST /api/v3/order") if "fills" in e["parsed"])
    order = wire.parse_order(raw)
    assert sum(f.qty for f in order.fills) == Decimal(raw["executedQty"])
    assert order.fills[1].commission == Decimal("19.99500000")
    assert all(isinstance(f.price, Decimal) for f in order.fills)


def test_account_example() -> None:
    raw = _examples("GET /api/v3/account")[0]["parsed"]
    account = wire.parse_account(raw)
    assert account.commission.maker == Decimal("0.00150000")
    assert account.commission.taker == Decimal("0.00150000")
    assert [(b.asset, b.free) for b in account.balances] == [
        (b["asset"], Decimal(b["free"])) for b in raw["balances"]]


def test_trade_examples() -> None:
    raw = _examples("GET /api/v3/myTrades")[0]["parsed"]
    trades = wire.parse_trades(raw)
    assert len(trades) == len(raw)
    trade = trades[0]
    assert (trade.order_id, trade.fill.trade_id) == (raw[0]["orderId"], raw[0]["id"])
    assert trade.fill.commission == Decimal(raw[0]["commission"])
    assert trade.quote_qty == Decimal(raw[0]["quoteQty"])
    assert trade.is_buyer is raw[0]["isBuyer"]


def test_exchange_info_example() -> None:
    raw = _examples("GET /api/v3/exchangeInfo")[0]["parsed"]
    info = wire.parse_exchange_info(raw)  # the doc's placeholder `rateLimits: [{}]` is skipped
    rules = info.symbols["ETHBTC"]
    assert (rules.base_asset, rules.quote_asset) == ("ETH", "BTC")
    assert rules.oco_allowed and rules.oto_allowed and rules.opo_allowed
    assert info.server_time_ms == raw["serverTime"]


def test_builtin_exchange_info_rate_limits() -> None:
    from planrunner.exchanges.rules import builtin_exchange_info
    info = wire.parse_exchange_info(builtin_exchange_info())
    assert {(r.kind, r.header) for r in info.rate_limits} >= {
        ("REQUEST_WEIGHT", "X-MBX-USED-WEIGHT-1M"), ("ORDERS", "X-MBX-ORDER-COUNT-10S"),
        ("ORDERS", "X-MBX-ORDER-COUNT-1D")}
    assert set(info.symbols) == {"BTCUSDT", "ETHUSDT", "BNBBTC", "SOLUSDT"}


def test_market_data_and_test_order_examples() -> None:
    assert wire.parse_ticker_price(_examples("GET /api/v3/ticker/price")[0]["parsed"]) == \
        Decimal("4.00000200")
    assert wire.parse_server_time(_examples("GET /api/v3/time")[0]["parsed"]) > 0
    klines = wire.parse_klines(_examples("GET /api/v3/klines")[0]["parsed"])
    assert klines and klines[0].open_time_ms < klines[0].close_time_ms
    empty, rates = (wire.parse_test_order(e["parsed"]) for e in _examples("POST /api/v3/order/test"))
    assert empty.standard is None
    assert rates.standard.taker == Decimal("0.00000114")
    assert rates.discount == Decimal("0.25000000") and rates.discount_asset == "BNB"


def test_cancel_answer_keeps_planrunners_client_id() -> None:
    raw = _examples("DELETE /api/v3/order")[0]["parsed"]
    assert wire.parse_order(raw).client_order_id == raw["origClientOrderId"]


def test_json_numbers_parsed_as_decimal_are_accepted() -> None:
    raw = json.loads(json.dumps(order_json()).replace('"7000.00"', "7000.10"), parse_float=Decimal)
    assert wire.parse_order(raw).price == Decimal("7000.10")


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.pop("orderId"), "orderId"),
    (lambda d: d.pop("status"), "status"),  # not an ACK: has origQty, so status is required
    (lambda d: d.update(clientOrderId=None), "clientOrderId"),
    (lambda d: d.update(origQty=[]), "origQty"),
    (lambda d: d.update(orderId="eleven"), "orderId"),
    (lambda d: d.update(price=7000.5), "price"),
    (lambda d: d.update(executedQty="lots"), "executedQty"),
    (lambda d: d.update(status="SOMETIMES"), "status"),
    (lambda d: d.update(fills=[{"price": "1", "tradeId": 5}]), "qty"),
    (lambda d: d.update(side=1), "side"),
])
def test_malformed_order_names_the_field(mutate, field: str) -> None:
    raw = order_json()
    mutate(raw)
    with pytest.raises(ExchangeError) as info:
        wire.parse_order(raw)
    assert f"'{field}'" in str(info.value) or field in str(info.value)


@pytest.mark.parametrize("parse, raw, field", [
    (wire.parse_account, {"commissionRates": {"maker": "0.001"}, "balances": []}, "taker"),
    (wire.parse_account, {"balances": [{"asset": "BTC"}]}, "free"),
    (wire.parse_order_list, {"orderListId": 1, "orders": []}, "listClientOrderId"),
    (wire.parse_order_list, {"orderListId": 1, "orders": "x"}, "orders"),
    (wire.parse_trades, [{"id": 1, "symbol": "BTCUSDT", "price": "1", "qty": "1", "commission": "0", "commissionAsset": "BNB"}], "orderId"),
    (wire.parse_exchange_info, {"symbols": [{"symbol": "X"}]}, "symbol entry"),
    (wire.parse_klines, [[1, "1"]], "row"),
    (wire.parse_orders, {"not": "a list"}, "list"),
    (wire.parse_ticker_price, "oops", "JSON object"),
])
def test_malformed_responses_are_clear_errors(parse, raw, field: str) -> None:
    with pytest.raises(ExchangeError, match=field):
        parse(raw)


def test_kline_cells_are_named_in_errors() -> None:
    row = [1, "1", "2", "0.5", "1.5", "10", 59_999, "15", 3]
    assert wire.parse_kline(row).close == Decimal("1.5")
    with pytest.raises(ExchangeError, match="'volume'"):
        wire.parse_kline(row[:5] + ["ten"] + row[6:])


def _order_objects(obj: Any) -> list[dict[str, Any]]:
    """Order objects nested anywhere in a response (cancelReplace halves, SOR answers)."""
    if isinstance(obj, dict):
        found = [obj] if "orderId" in obj and "status" in obj else []
        return found + [o for v in obj.values() for o in _order_objects(v)]
    if isinstance(obj, list):
        return [o for v in obj for o in _order_objects(v)]
    return []


def test_sor_and_cancel_replace_order_objects_parse_too() -> None:
    examples = _examples("POST /api/v3/sor/order", "POST /api/v3/order/cancelReplace")
    objects = [o for e in examples for o in _order_objects(e["parsed"])]
    assert len(objects) >= 5
    for raw in objects:
        _check_order(raw, wire.parse_order(raw))


def test_cancel_replace_error_halves_classify_by_their_own_codes() -> None:
    halves = [h for e in _examples("POST /api/v3/order/cancelReplace")
              for h in (e["parsed"].get("data") or {}).values()
              if isinstance(h, dict) and "code" in h]
    assert {h["code"] for h in halves} == {-2011, -2010, -1015}
    expected = {-2011: OrderNotFound, -2010: OrderRejected, -1015: RateLimited}
    for half in halves:
        reply = parse_reply(400, json.dumps(half).encode())
        error = classify(reply, CallContext("POST", "/api/v3/order"))
        assert isinstance(error, expected[half["code"]])
