"""GET /api/v3/ticker/24hr, /ticker/bookTicker and /depth: the official examples' keys, the
documented request weights, and values built from the trade tape and the resting LIMIT orders."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sim_helpers import API_KEY, API_SECRET, RawApi
from test_sim_json_shapes import example, examples, keys  # noqa: F401  (fixture)

from planrunner.clock import ManualClock
from planrunner.sim.remote import SimControl
from planrunner.sim.server import SimOptions, start_simulator

SYMBOL = "BTCUSDT"


@pytest.fixture
def frozen():
    """A simulator on a clock that never moves: the weight window cannot roll mid-test."""
    clock = ManualClock(start_ms=1_800_000_000_000)
    running = start_simulator(SimOptions(api_key=API_KEY, api_secret=API_SECRET), clock=clock)
    yield RawApi(running.base_url, clock), SimControl(running.base_url)
    running.stop()


def _get(api: RawApi, path: str, **params: str):
    status, body, _ = api.call("GET", path, signed=False, **params)
    assert status == 200, body
    return body


def _limit(api: RawApi, side: str, price: str, qty: str) -> None:
    status, body, _ = api.call("POST", "/api/v3/order", symbol=SYMBOL, side=side, type="LIMIT",
                               timeInForce="GTC", quantity=qty, price=price)
    assert status == 200 and body["status"] == "NEW", body


def test_key_sets_match_the_official_examples(frozen, examples):  # noqa: F811
    api, _ = frozen
    full, full_list, mini, mini_list = (example(examples, "GET /api/v3/ticker/24hr", i)
                                        for i in range(4))
    one = _get(api, "/api/v3/ticker/24hr", symbol=SYMBOL)
    assert keys(one, loose=False) == keys(full, loose=False)
    some = _get(api, "/api/v3/ticker/24hr", symbols='["BTCUSDT","ETHUSDT"]')
    assert [r["symbol"] for r in some] == ["BTCUSDT", "ETHUSDT"]
    assert all(keys(r, loose=False) == keys(full_list[0], loose=False) for r in some)
    small = _get(api, "/api/v3/ticker/24hr", symbol=SYMBOL, type="MINI")
    assert keys(small, loose=False) == keys(mini, loose=False)
    every = _get(api, "/api/v3/ticker/24hr", type="MINI")
    assert len(every) == 4 and all(keys(r, loose=False) == keys(mini_list[0], loose=False)
                                   for r in every)
    top = _get(api, "/api/v3/ticker/bookTicker", symbol=SYMBOL)
    assert keys(top, loose=False) == keys(example(examples, "GET /api/v3/ticker/bookTicker", 0),
                                          loose=False)
    tops = _get(api, "/api/v3/ticker/bookTicker")
    assert len(tops) == 4 and keys(tops[0], loose=False) == keys(
        example(examples, "GET /api/v3/ticker/bookTicker", 1)[0], loose=False)
    book = _get(api, "/api/v3/depth", symbol=SYMBOL)
    assert keys(book, loose=False) == keys(example(examples, "GET /api/v3/depth"), loose=False)
    assert isinstance(one["openTime"], int) and isinstance(one["count"], int)
    assert isinstance(book["lastUpdateId"], int)


@pytest.mark.parametrize("path, params, weight", [
    ("/api/v3/ticker/24hr", {"symbol": SYMBOL}, 2),
    ("/api/v3/ticker/24hr", {"symbols": '["BTCUSDT","ETHUSDT"]'}, 2),
    ("/api/v3/ticker/24hr", {}, 80),
    ("/api/v3/ticker/24hr", {"type": "MINI"}, 80),
    ("/api/v3/ticker/bookTicker", {"symbol": SYMBOL}, 2),
    ("/api/v3/ticker/bookTicker", {}, 4),
    ("/api/v3/ticker/bookTicker", {"symbols": '["BTCUSDT"]'}, 4),
    ("/api/v3/depth", {"symbol": SYMBOL}, 5),
    ("/api/v3/depth", {"symbol": SYMBOL, "limit": "100"}, 5),
    ("/api/v3/depth", {"symbol": SYMBOL, "limit": "101"}, 25),
    ("/api/v3/depth", {"symbol": SYMBOL, "limit": "1000"}, 50),
    ("/api/v3/depth", {"symbol": SYMBOL, "limit": "5000"}, 250),
    ("/api/v3/depth", {"symbol": SYMBOL, "limit": "9000"}, 250),
])
def test_documented_weights(frozen, path, params, weight):
    api, _ = frozen
    status, body, headers = api.call("GET", path, signed=False, **params)
    assert status == 200, body
    assert int(headers["X-MBX-USED-WEIGHT-1M"]) == weight


def test_depth_and_book_ticker_show_the_resting_limit_orders(frozen):
    api, _ = frozen
    empty = _get(api, "/api/v3/depth", symbol=SYMBOL)
    assert (empty["bids"], empty["asks"]) == ([], [])
    _limit(api, "BUY", "7000", "0.01")
    _limit(api, "BUY", "7000", "0.01")
    _limit(api, "BUY", "7100", "0.02")
    _limit(api, "SELL", "7400", "0.03")
    _limit(api, "SELL", "7500", "0.01")
    book = _get(api, "/api/v3/depth", symbol=SYMBOL)
    assert book["bids"] == [["7100.00000000", "0.02000000"], ["7000.00000000", "0.02000000"]]
    assert book["asks"] == [["7400.00000000", "0.03000000"], ["7500.00000000", "0.01000000"]]
    assert book["lastUpdateId"] > empty["lastUpdateId"]
    assert _get(api, "/api/v3/depth", symbol=SYMBOL, limit="1")["bids"] == [
        ["7100.00000000", "0.02000000"]]
    top = _get(api, "/api/v3/ticker/bookTicker", symbol=SYMBOL)
    assert top == {"symbol": SYMBOL, "bidPrice": "7100.00000000", "bidQty": "0.02000000",
                   "askPrice": "7400.00000000", "askQty": "0.03000000"}
    ticker = _get(api, "/api/v3/ticker/24hr", symbol=SYMBOL)
    assert (ticker["bidPrice"], ticker["askQty"]) == ("7100.00000000", "0.03000000")
    other = _get(api, "/api/v3/ticker/bookTicker", symbol="ETHUSDT")
    assert (other["bidPrice"], other["bidQty"]) == ("0.00000000", "0.00000000")


def test_filled_and_canceled_orders_leave_the_book(frozen):
    api, control = frozen
    _limit(api, "BUY", "7100", "0.02")
    _limit(api, "SELL", "7400", "0.01")
    before = _get(api, "/api/v3/depth", symbol=SYMBOL)["lastUpdateId"]
    control.set_price(SYMBOL, Decimal(7050))  # the BUY at 7100 fills
    book = _get(api, "/api/v3/depth", symbol=SYMBOL)
    assert (book["bids"], book["asks"]) == ([], [["7400.00000000", "0.01000000"]])
    assert book["lastUpdateId"] > before
    status, _, _ = api.call("DELETE", "/api/v3/openOrders", symbol=SYMBOL)
    assert status == 200
    assert _get(api, "/api/v3/depth", symbol=SYMBOL)["asks"] == []


def test_24hr_follows_the_tape(frozen):
    api, control = frozen
    start = _get(api, "/api/v3/ticker/24hr", symbol=SYMBOL)
    assert start["lastPrice"] == start["openPrice"] == "7195.24000000"
    control.set_price(SYMBOL, Decimal(7300))
    control.set_price(SYMBOL, Decimal("7150.5"))
    now = _get(api, "/api/v3/ticker/24hr", symbol=SYMBOL)
    assert (now["openPrice"], now["highPrice"], now["lowPrice"], now["lastPrice"]) == (
        "7195.24000000", "7300.00000000", "7150.50000000", "7150.50000000")
    assert (now["priceChange"], now["priceChangePercent"]) == ("-44.74000000", "-0.622")
    assert now["count"] == start["count"] + 2 and now["lastId"] == start["lastId"] + 2
    assert now["lastId"] - now["firstId"] + 1 == now["count"]
    assert now["closeTime"] - now["openTime"] == 86_400_000
    assert (now["volume"], now["lastQty"]) == ("0.00000000", "0.00000000")
    mini = _get(api, "/api/v3/ticker/24hr", symbols='["BTCUSDT"]', type="MINI")
    assert [m["lastPrice"] for m in mini] == ["7150.50000000"]


@pytest.mark.parametrize("path, params, code", [
    ("/api/v3/ticker/24hr", {"symbol": SYMBOL, "type": "HUGE"}, -1139),
    ("/api/v3/ticker/24hr", {"symbol": "NOPEUSDT"}, -1121),
    ("/api/v3/ticker/bookTicker", {"symbols": '["BTCUSDT","BTCUSDT"]'}, -1151),
    ("/api/v3/depth", {}, -1102),
    ("/api/v3/depth", {"symbol": SYMBOL, "limit": "0"}, -1130),
    ("/api/v3/depth", {"symbol": SYMBOL, "limit": "x"}, -1100),
])
def test_refusals(frozen, path, params, code):
    api, _ = frozen
    status, body, _ = api.call("GET", path, signed=False, **params)
    assert (status, body["code"]) == (400, code)
