"""Request parameters compared with ccxt's static binance request cases wherever planrunner
expresses the same order or query: compared as dicts (order free), skipping ccxt's skipKeys,
numbers compared numerically; POST params in the form body, GET/DELETE in the query string."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from binance_fakes import make_client, order_json, shared_json

from planrunner.exchanges.binance import wire
from planrunner.exchanges.rules import builtin_rules
from planrunner.money import ceil_to, floor_to

D = Decimal
BTC_STEP = builtin_rules()["BTCUSDT"].step_size
# ccxt's stored LTC/USDT precisions (see shared/data/README §1a): step 0.001, tick 0.01
LTC_STEP, LTC_TICK = D("0.001"), D("0.01")


def _limit(symbol: str, side: str, qty: str, price: str, **kw: Any) -> wire.Params:
    return wire.order_params(symbol, side, kw.pop("type", "LIMIT"), quantity=D(qty), price=D(price),
                             time_in_force=kw.pop("time_in_force", "GTC"), **kw)


def _market_cost(symbol: str, side: str, cost: D) -> wire.Params:
    return wire.order_params(symbol, side, "MARKET", quote_order_qty=cost)


# ccxt description -> planrunner's params for the same order (POST /api/v3/order or /order/test)
ORDERS: dict[str, Callable[[], wire.Params]] = {
    "spot +selfTradePrevention +iceberg": lambda: _limit(
        "SOLUSDT", "BUY", "0.05", "241", stp_mode="EXPIRE_MAKER", iceberg_qty=D("0.03")),
    "Spot market buy order": lambda: _market_cost("LTCUSDT", "BUY", D("0.2") * D("50")),
    "Spot limit buy order": lambda: _limit("LTCUSDT", "BUY", "0.2", "50"),
    "Spot limit buy with postOnly": lambda: wire.order_params(
        "LTCUSDT", "BUY", "LIMIT_MAKER", quantity=D("0.2"), price=D("50")),
    "spot order with weird amount": lambda: _limit(
        "BTCUSDT", "BUY", str(floor_to(D("0.0007856509959147719"), BTC_STEP)), "55000"),
    "spot order with weird price/amount": lambda: _limit(
        "LTCUSDT", "BUY", str(floor_to(D("0.4234234234"), LTC_STEP)),
        str(floor_to(D("55.324242343"), LTC_TICK))),
    "Spot limit buy with triggerPrice": lambda: _limit(
        "LTCUSDT", "BUY", "0.2", "50", type="STOP_LOSS_LIMIT", stop_price=D("100")),
    "Spot limit buy with test endpoint": lambda: _limit("LTCUSDT", "BUY", "0.2", "50"),
    "spot create a trailing limit stop loss order": lambda: _limit(
        "BTCUSDT", "SELL", "0.1", "55000", type="STOP_LOSS_LIMIT", trailing_delta=5 * 100),
    "spot create a trailing limit take profit order": lambda: _limit(
        "BTCUSDT", "SELL", "0.1", "70000", type="TAKE_PROFIT_LIMIT", trailing_delta=5 * 100),
    "Spot create market order with cost": lambda: _market_cost("BTCUSDT", "BUY", D("10")),
    "Spot create market buy order with cost": lambda: _market_cost("BTCUSDT", "BUY", D("15")),
    "market buy order with weird cost": lambda: _market_cost(
        "LTCUSDT", "BUY", floor_to(D("5.3243423423423"), LTC_TICK)),
    "Spot create market sell order with cost": lambda: _market_cost("BTCUSDT", "SELL", D("15")),
    "market sell with weird cost": lambda: _market_cost(
        "LTCUSDT", "SELL", floor_to(D("5.3243423423423"), LTC_TICK)),
}

# ccxt description -> (path, params) for reads and cancels planrunner builds
QUERIES: dict[str, Callable[[], tuple[str, wire.Params]]] = {
    "Spot cancelOrder": lambda: ("/api/v3/order", wire.order_ref_params("LTCUSDT", order_id=464950)),
    "Spot fetchOrder": lambda: ("/api/v3/order", wire.order_ref_params("LTCUSDT", order_id=465138)),
    "Spot fetch balance": lambda: ("/api/v3/account", ()),
    "Spot fetchMyTrades": lambda: ("/api/v3/myTrades", wire.my_trades_params("LTCUSDT")),
    "spot order trades": lambda: ("/api/v3/myTrades",
                                  wire.my_trades_params("LTCUSDT", order_id=3010478906)),
    "Spot one orders": lambda: ("/api/v3/openOrders", (("symbol", "LTCUSDT"),)),
    "Fetch OHLCV - spot": lambda: ("/api/v3/klines", wire.klines_params(
        "BTCUSDT", "1m", start_ms=1699381234000, limit=5)),
    "spot ohlcv": lambda: ("/api/v3/klines", wire.klines_params("BTCUSDT", "1m", limit=500)),
    "fetchTime": lambda: ("/api/v3/time", ()),
}


def _cases() -> tuple[dict[str, Any], list[str]]:
    data = shared_json("ccxt/request/binance.json")
    return {c["description"]: c for cases in data["methods"].values() for c in cases}, data["skipKeys"]


def _normalise(pairs: list[tuple[str, str]], skip: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in skip:
            continue
        try:
            out[key] = D(value)
        except ArithmeticError:
            out[key] = value
    return out


def _ccxt_params(case: dict[str, Any], skip: list[str]) -> dict[str, Any]:
    raw = case["output"] if "output" in case else urlsplit(case["url"]).query
    return _normalise(parse_qsl(raw, keep_blank_values=True), skip)


@pytest.mark.parametrize("description", sorted(ORDERS))
def test_orders_sent_by_the_client_match_ccxt(description: str) -> None:
    cases, skip = _cases()
    case = cases[description]
    client, transport, _ = make_client()
    params = ORDERS[description]()
    expected_path = urlsplit(case["url"]).path
    if expected_path.endswith("/test"):
        transport.on("POST", expected_path, {})
        client.test_order(wire.new_order_request(params))
    else:
        transport.on("POST", expected_path, order_json())
        client.submit(wire.new_order_request(params))
    sent = transport.non_time()[-1]
    assert (sent.method, sent.path) == ("POST", expected_path)
    assert sent.body is not None and "?" not in sent.url  # POST params travel in the form body
    assert _normalise(sent.params, skip) == _ccxt_params(case, skip)


@pytest.mark.parametrize("description", sorted(QUERIES))
def test_query_params_match_ccxt(description: str) -> None:
    cases, skip = _cases()
    case = cases[description]
    path, params = QUERIES[description]()
    assert path == urlsplit(case["url"]).path
    assert _normalise(list(params), skip) == _ccxt_params(case, skip)


@pytest.mark.parametrize("description, call", [
    ("Spot fetch balance", lambda c: c.balances()),
    ("Spot one orders", lambda c: c.open_orders("LTCUSDT")),
    ("spot order trades", lambda c: c.my_trades("LTCUSDT", order_id=3010478906)),
    ("Fetch OHLCV - spot", lambda c: c.klines("BTCUSDT", "1m", start_ms=1699381234000, limit=5)),
])
def test_reads_sent_by_the_client_match_ccxt(description: str, call) -> None:
    cases, skip = _cases()
    case = cases[description]
    client, transport, _ = make_client()
    path = urlsplit(case["url"]).path
    answers = {"/api/v3/account": {"balances": []}, "/api/v3/openOrders": [],
               "/api/v3/myTrades": [], "/api/v3/klines": []}
    transport.on("GET", path, answers[path])
    call(client)
    sent = transport.calls(path)[-1]
    assert sent.method == "GET" and sent.body is None
    assert _normalise(sent.params, skip) == _ccxt_params(case, skip)


def test_every_mapped_description_exists_in_the_corpus() -> None:
    cases, _ = _cases()
    assert set(ORDERS) | set(QUERIES) <= set(cases)
    assert ceil_to(D("0.00078"), BTC_STEP) == D("0.00078")  # the ccxt amount lies on BTCUSDT's grid
