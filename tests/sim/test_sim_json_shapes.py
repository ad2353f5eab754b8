"""The simulator's JSON has the keys of Binance's official response examples, ids and times as
integers and amounts as strings with the symbol's precision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sim_helpers import RawApi

EXAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / \
    "binance-spot-api-docs" / "spot-api-docs-examples.json"
# Present only when the order uses the feature (iceberg, stops, trailing, STP, SOR, pegs, expiry).
CONDITIONAL = {"icebergQty", "stopPrice", "trailingDelta", "trailingTime", "expiryReason",
               "preventedMatchId", "preventedQuantity", "strategyId", "strategyType", "usedSor",
               "workingFloor", "pegPriceType", "pegOffsetType", "pegOffsetValue", "peggedPrice"}
SYMBOL = "BTCUSDT"


@pytest.fixture(scope="module")
def examples() -> list[dict[str, Any]]:
    if not EXAMPLES.exists():
        pytest.skip(f"official examples not available at {EXAMPLES}")
    import json
    return json.loads(EXAMPLES.read_text("utf-8"))["examples"]


def example(examples, endpoint: str, index: int = 0) -> Any:
    found = [e["parsed"] for e in examples if e["endpoint"] == endpoint
             and not (isinstance(e["parsed"], dict) and "code" in e["parsed"])]
    return found[index]


def keys(obj: dict[str, Any], loose: bool = True) -> set[str]:
    return set(obj) - CONDITIONAL if loose else set(obj)


@pytest.fixture
def api(sim, clock) -> RawApi:
    return RawApi(sim.base_url, clock)


def place_limit(api: RawApi, cid: str, resp: str, price: str = "7000") -> dict[str, Any]:
    status, body, _ = api.call("POST", "/api/v3/order", symbol=SYMBOL, side="BUY", type="LIMIT",
                               timeInForce="GTC", quantity="0.01", price=price,
                               newClientOrderId=cid, newOrderRespType=resp)
    assert status == 200, body
    return body


def test_public_endpoints(api, examples):
    for path, endpoint, params in (("/api/v3/ping", "GET /api/v3/ping", {}),
                                   ("/api/v3/time", "GET /api/v3/time", {}),
                                   ("/api/v3/exchangeInfo", "GET /api/v3/exchangeInfo", {}),
                                   ("/api/v3/avgPrice", "GET /api/v3/avgPrice", {"symbol": SYMBOL}),
                                   ("/api/v3/ticker/price", "GET /api/v3/ticker/price",
                                    {"symbol": SYMBOL})):
        status, body, headers = api.call("GET", path, signed=False, **params)
        assert status == 200 and keys(body) == keys(example(examples, endpoint)), path
        assert int(headers["X-MBX-USED-WEIGHT-1M"]) > 0
    _, rows, _ = api.call("GET", "/api/v3/klines", signed=False, symbol=SYMBOL, interval="1m")
    assert len(rows[0]) == len(example(examples, "GET /api/v3/klines")[0]) == 12
    assert isinstance(rows[0][0], int) and rows[0][1] == "7195.24000000"


def test_order_responses(api, examples):
    ack = place_limit(api, "shape-ack", "ACK")
    assert keys(ack, loose=False) == keys(example(examples, "POST /api/v3/order", 0), loose=False)
    result = place_limit(api, "shape-result", "RESULT")
    assert keys(result) == keys(example(examples, "POST /api/v3/order", 1))
    full = place_limit(api, "shape-full", "FULL", price="7300")  # crosses: fills at once
    official = example(examples, "POST /api/v3/order", 2)
    assert keys(full) == keys(official)
    assert set(full["fills"][0]) == set(official["fills"][0])
    assert (full["origQty"], full["price"], full["fills"][0]["qty"]) == (
        "0.01000000", "7300.00000000", "0.01000000")
    assert isinstance(full["orderId"], int) and isinstance(full["transactTime"], int)
    _, queried, _ = api.call("GET", "/api/v3/order", symbol=SYMBOL, origClientOrderId="shape-ack")
    assert keys(queried, loose=False) == keys(example(examples, "GET /api/v3/order"), loose=False)
    _, opened, _ = api.call("GET", "/api/v3/openOrders", symbol=SYMBOL)
    assert keys(opened[0], loose=False) == keys(example(examples, "GET /api/v3/openOrders")[0],
                                                 loose=False)
    _, every, _ = api.call("GET", "/api/v3/allOrders", symbol=SYMBOL)
    assert [o["clientOrderId"] for o in every] == ["shape-ack", "shape-result", "shape-full"]
    _, canceled, _ = api.call("DELETE", "/api/v3/order", symbol=SYMBOL, origClientOrderId="shape-ack",
                              newClientOrderId="shape-cancel")
    assert keys(canceled) == keys(example(examples, "DELETE /api/v3/order"))
    assert (canceled["origClientOrderId"], canceled["clientOrderId"]) == ("shape-ack", "shape-cancel")


def test_account_trades_and_commission(api, examples):
    place_limit(api, "shape-fill", "FULL", price="7300")
    _, account, _ = api.call("GET", "/api/v3/account", omitZeroBalances="true")
    assert keys(account) == keys(example(examples, "GET /api/v3/account"))
    assert set(account["commissionRates"]) == set(example(examples, "GET /api/v3/account")["commissionRates"])
    _, trades, _ = api.call("GET", "/api/v3/myTrades", symbol=SYMBOL)
    assert keys(trades[0]) == keys(example(examples, "GET /api/v3/myTrades")[0])
    assert (trades[0]["price"], trades[0]["quoteQty"]) == ("7195.24000000", "71.95240000")  # taker at last
    _, rates, _ = api.call("GET", "/api/v3/account/commission", symbol=SYMBOL)
    assert keys(rates) == keys(example(examples, "GET /api/v3/account/commission"))
    for path, index in (("/api/v3/order/test", 0), ("/api/v3/order/test", 1)):
        extra = {"computeCommissionRates": "true"} if index else {}
        _, tested, _ = api.call("POST", path, symbol=SYMBOL, side="BUY", type="LIMIT",
                                timeInForce="GTC", quantity="0.01", price="7000", **extra)
        assert keys(tested) == keys(example(examples, "POST /api/v3/order/test", index))


def _list(api: RawApi, kind: str, prefix: str, **params: str) -> dict[str, Any]:
    status, body, headers = api.call("POST", f"/api/v3/orderList/{kind}", symbol=SYMBOL,
                                     listClientOrderId=prefix, newOrderRespType="RESULT", **params)
    assert status == 200, body
    assert int(headers["X-MBX-ORDER-COUNT-10S"]) >= len(body["orders"])
    return body


def _same_list_shape(mine: dict[str, Any], official: dict[str, Any]) -> None:
    assert keys(mine) == keys(official)
    assert set(mine["orders"][0]) == set(official["orders"][0])
    for report, reference in zip(mine.get("orderReports", []), official.get("orderReports", [])):
        assert keys(report) == keys(reference), report["type"]


def test_order_list_responses(api, examples):
    oco = _list(api, "oco", "shape-oco", side="SELL", quantity="0.1", aboveType="LIMIT_MAKER",
                abovePrice="7600", belowType="STOP_LOSS_LIMIT", belowPrice="6800",
                belowStopPrice="6900", belowTimeInForce="GTC")
    official = example(examples, "POST /api/v3/orderList/oco")
    assert keys(oco) == keys(official) and len(oco["orderReports"]) == 2
    working = {"workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "7000",
               "workingQuantity": "0.01", "workingTimeInForce": "GTC"}
    pending = {"pendingSide": "SELL", "pendingAboveType": "LIMIT_MAKER", "pendingAbovePrice": "7600",
               "pendingBelowType": "STOP_LOSS_LIMIT", "pendingBelowPrice": "6800",
               "pendingBelowStopPrice": "6900", "pendingBelowTimeInForce": "GTC"}
    otoco = _list(api, "otoco", "shape-otoco", **working, **pending, pendingQuantity="0.01")
    _same_list_shape(otoco, example(examples, "POST /api/v3/orderList/otoco"))
    opoco = _list(api, "opoco", "shape-opoco", **working, **pending)
    _same_list_shape(opoco, example(examples, "POST /api/v3/orderList/opoco"))
    assert "origQty" not in opoco["orderReports"][1]  # sized only when the entry fills
    _, queried, _ = api.call("GET", "/api/v3/orderList", origClientOrderId="shape-oco")
    _same_list_shape(queried, example(examples, "GET /api/v3/orderList"))
    _, open_lists, _ = api.call("GET", "/api/v3/openOrderList")
    assert [x["listClientOrderId"] for x in open_lists] == ["shape-oco", "shape-otoco", "shape-opoco"]
    _, canceled, _ = api.call("DELETE", "/api/v3/orderList", symbol=SYMBOL,
                              listClientOrderId="shape-oco")
    _same_list_shape(canceled, example(examples, "DELETE /api/v3/orderList"))
    assert canceled["listOrderStatus"] == "ALL_DONE"
    _, swept, _ = api.call("DELETE", "/api/v3/openOrders", symbol=SYMBOL)
    assert sorted(x.get("listClientOrderId", "") for x in swept) == ["shape-opoco", "shape-otoco"]


def test_errors_are_binance_shaped(api):
    status, body, _ = api.call("GET", "/api/v3/order", symbol=SYMBOL, origClientOrderId="nope")
    assert (status, body) == (400, {"code": -2013, "msg": "Order does not exist."})
    status, body, _ = api.call("GET", "/api/v3/ticker/price", signed=False, symbol="BTCUSD")
    assert (status, body) == (400, {"code": -1121, "msg": "Invalid symbol."})
    status, body, _ = api.call("POST", "/api/v3/order", symbol=SYMBOL, side="BUY", type="LIMIT",
                               timeInForce="GTC", quantity="100", price="7000")
    assert (status, body["code"]) == (400, -2010) and "insufficient balance" in body["msg"]
    status, body, _ = api.call("GET", "/api/v3/nothing", signed=False)
    assert status == 404 and body["code"] == -1000
    status, body, _ = api.call("POST", "/api/v3/order/oco", symbol=SYMBOL, side="SELL")
    assert (status, body["code"]) == (400, -1102) and "'quantity'" in body["msg"]


def test_deprecated_oco_is_served_as_an_order_list(api, examples):
    status, body, _ = api.call("POST", "/api/v3/order/oco", symbol=SYMBOL, side="SELL",
                               quantity="0.1", price="7600", stopPrice="6900",
                               stopLimitPrice="6850", stopLimitTimeInForce="GTC",
                               limitClientOrderId="old-tp", stopClientOrderId="old-sl")
    assert status == 200, body
    _same_list_shape(body, example(examples, "POST /api/v3/order/oco"))
    legs = {r["clientOrderId"]: (r["type"], r.get("stopPrice")) for r in body["orderReports"]}
    assert legs == {"old-tp": ("LIMIT_MAKER", None), "old-sl": ("STOP_LOSS_LIMIT", "6900.00000000")}
