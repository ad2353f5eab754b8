"""Rate limits on a frozen clock: request weight per minute (429, then the 418 ban for carrying
on), the unfilled-order count (429 -1015), the usage headers, and 0 weight for accepted orders."""

from __future__ import annotations

import pytest
from sim_helpers import API_KEY, API_SECRET, RawApi

from planrunner.clock import ManualClock
from planrunner.sim.ratelimit import Limits
from planrunner.sim.server import SimOptions, start_simulator


@pytest.fixture
def frozen():
    clock = ManualClock(start_ms=1_800_000_000_000)  # exactly on a minute (and 10 s) boundary
    running = start_simulator(SimOptions(api_key=API_KEY, api_secret=API_SECRET,
                                         limits=Limits(weight_per_minute=50, orders_per_10s=3)),
                              clock=clock)
    yield RawApi(running.base_url, clock), clock
    running.stop()


def test_weight_limit_429_then_ban_418(frozen):
    api, clock = frozen
    used = [int(api.call("GET", "/api/v3/exchangeInfo", signed=False)[2]["X-MBX-USED-WEIGHT-1M"])
            for _ in range(2)]
    assert used == [20, 40]
    status, body, headers = api.call("GET", "/api/v3/exchangeInfo", signed=False)
    assert (status, body["code"]) == (429, -1003) and "6000" not in body["msg"] and "50" in body["msg"]
    assert int(headers["Retry-After"]) == 60  # the clock sits on a minute boundary
    status, body, headers = api.call("GET", "/api/v3/ping", signed=False)
    assert status == 418 and int(headers["Retry-After"]) == 120 and "banned" in body["msg"]
    clock.advance(121_000)
    assert api.call("GET", "/api/v3/ping", signed=False)[0] == 200


def _limit(api: RawApi, price: str) -> tuple[int, dict, dict]:
    return api.call("POST", "/api/v3/order", symbol="BTCUSDT", side="BUY", type="LIMIT",
                    timeInForce="GTC", quantity="0.01", price=price)


def test_unfilled_order_count_and_zero_weight_for_accepted_orders(frozen):
    api, clock = frozen
    counts = []
    for price in ("7000", "7001"):
        status, _, headers = _limit(api, price)
        counts.append((status, headers["X-MBX-ORDER-COUNT-10S"], headers["X-MBX-ORDER-COUNT-1D"],
                       headers["X-MBX-USED-WEIGHT-1M"]))
    assert counts == [(200, "1", "1", "0"), (200, "2", "2", "0")]
    status, body, headers = api.call(
        "POST", "/api/v3/orderList/oto", symbol="BTCUSDT", workingType="LIMIT", workingSide="BUY",
        workingPrice="7000", workingQuantity="0.01", workingTimeInForce="GTC", pendingType="LIMIT",
        pendingSide="SELL", pendingPrice="7500", pendingQuantity="0.01", pendingTimeInForce="GTC")
    assert (status, body["code"]) == (429, -1015) and "3 orders per 10 SECOND" in body["msg"]
    assert headers["X-MBX-USED-WEIGHT-1M"] == "1"  # a refused order pays its weight
    clock.advance(10_000)
    assert _limit(api, "7002")[0] == 200
