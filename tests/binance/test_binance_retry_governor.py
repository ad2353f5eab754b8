"""Retry policy, clock sync, the rate-limit governor and the 418 ban, all on a ManualClock."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal

import pytest
from binance_fakes import err, make_client, ok, order_json

from planrunner.clock import ManualClock
from planrunner.errors import OutcomeUnknown, RateLimited, TransientError
from planrunner.exchanges.binance import wire
from planrunner.exchanges.binance.client import RetryPolicy
from planrunner.exchanges.binance.governor import Governor, LimitKind, RateLimit
from planrunner.exchanges.rules import builtin_exchange_info

ORDER = wire.new_order_request(wire.order_params(
    "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.001"), price=Decimal(7000),
    time_in_force="GTC", client_order_id="pr-1"))
OTOCO = wire.ExchangeRequest("POST", "/api/v3/orderList/otoco", (("symbol", "BTCUSDT"),))
BUSY = err(503, body=b"")


def _expected_sleeps_ms(policy: RetryPolicy, seed: int, count: int) -> list[int]:
    rng = random.Random(seed)
    return [int(policy.delay(i, rng) * 1000) for i in range(count)]


def _gaps(sent) -> list[int]:
    return [b.at_ms - a.at_ms for a, b in itertools.pairwise(sent)]


def test_reads_retry_with_seeded_exponential_backoff() -> None:
    client, transport, _ = make_client(seed=11)
    transport.on("GET", "/api/v3/order", BUSY, BUSY, BUSY, order_json())
    assert client.query_order("BTCUSDT", "pr-1").order_id == 11
    sends = transport.calls("/api/v3/order")
    assert len(sends) == 4
    assert _gaps(sends) == _expected_sleeps_ms(RetryPolicy(), 11, 3)


def test_backoff_grows_and_stays_within_its_jitter_band() -> None:
    policy, rng = RetryPolicy(base_delay=1.0, max_delay=8.0), random.Random(3)
    delays = [policy.delay(i, rng) for i in range(6)]
    ceilings = [1, 2, 4, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings))


def test_reads_give_up_after_the_attempts() -> None:
    client, transport, _ = make_client(retry=RetryPolicy(attempts=3))
    transport.on("GET", "/api/v3/order", BUSY, BUSY, BUSY)
    with pytest.raises(TransientError, match="HTTP 503"):
        client.query_order("BTCUSDT", "pr-1")
    assert len(transport.calls("/api/v3/order")) == 3


def test_read_timeout_after_sending_is_retried() -> None:
    client, transport, _ = make_client()
    transport.on("GET", "/api/v3/openOrders", OutcomeUnknown("timed out"), [order_json()])
    assert len(client.open_orders("BTCUSDT")) == 1


def test_an_order_post_is_never_resent() -> None:
    for failure in (BUSY, TransientError("could not connect"), OutcomeUnknown("timed out"),
                    err(500, -1007, "Timeout waiting for response from backend server.")):
        client, transport, _ = make_client()
        transport.on("POST", "/api/v3/order", failure, order_json())
        with pytest.raises((OutcomeUnknown, TransientError)):
            client.submit(ORDER)
        assert len(transport.calls("/api/v3/order")) == 1


def test_cancels_retry_only_when_nothing_happened() -> None:
    client, transport, _ = make_client()
    transport.on("DELETE", "/api/v3/order", TransientError("could not connect"),
                 err(429, -1003, "Too many requests queued.", {"Retry-After": "2"}),
                 order_json(status="CANCELED"))
    assert client.cancel_order("BTCUSDT", "pr-1").status == "CANCELED"
    sends = transport.calls("/api/v3/order")
    assert len(sends) == 3 and _gaps(sends)[1] >= 2000  # Retry-After honoured
    transport.on("DELETE", "/api/v3/order", BUSY, order_json(status="CANCELED"))
    with pytest.raises(OutcomeUnknown):
        client.cancel_order("BTCUSDT", "pr-1")
    assert len(transport.calls("/api/v3/order")) == 4


def test_time_offset_is_measured_at_the_midpoint() -> None:
    clock = ManualClock()
    client, transport, _ = make_client(clock=clock)
    transport.server_offset_ms, transport.latency_ms = -2500, 300
    assert client.sync_time() == -2500


def test_signed_requests_carry_recv_window_timestamp_and_signature_last() -> None:
    client, transport, _ = make_client()
    transport.server_offset_ms = 1234
    transport.on("GET", "/api/v3/order", order_json())
    client.query_order("BTCUSDT", "pr-1")
    sent = transport.calls("/api/v3/order")[0]
    names = [k for k, _ in sent.params]
    assert names == ["symbol", "origClientOrderId", "recvWindow", "timestamp", "signature"]
    assert sent.param_dict()["recvWindow"] == "5000"
    assert int(sent.param_dict()["timestamp"]) == sent.at_ms + 1234
    assert sent.headers["X-MBX-APIKEY"] == "test-api-key-AAAA"


def test_1021_resyncs_the_clock_and_retries_the_order_once() -> None:
    client, transport, _ = make_client()
    client.sync_time()
    transport.server_offset_ms = 4000  # the local clock drifted behind
    transport.on("POST", "/api/v3/order",
                 err(400, -1021, "Timestamp for this request is outside of the recvWindow."),
                 order_json())
    assert client.submit(ORDER).order_id == 11
    first, second = transport.calls("/api/v3/order")
    stamp = [int(s.param_dict()["timestamp"]) for s in (first, second)]
    assert stamp[1] - second.at_ms == 4000 and stamp[0] - first.at_ms == 0
    assert len(transport.calls("/api/v3/time")) == 2


def test_418_ban_refuses_all_traffic_until_it_ends() -> None:
    client, transport, clock = make_client()
    transport.on("GET", "/api/v3/ticker/price",
                 err(418, -1003, "Way too much request weight used; IP banned until 1.",
                     {"Retry-After": "120"}))
    with pytest.raises(RateLimited):
        client.last_price("BTCUSDT")
    sent_before = len(transport.sent)
    clock.advance(60_000)
    with pytest.raises(RateLimited) as info:
        client.submit(ORDER)
    assert info.value.banned and info.value.retry_after == 60
    assert "banned" in str(info.value) and "60 s" in str(info.value)
    assert len(transport.sent) == sent_before  # nothing went out
    clock.advance(60_000)
    transport.on("GET", "/api/v3/ticker/price", {"symbol": "BTCUSDT", "price": "7195.24"})
    assert client.last_price("BTCUSDT") == Decimal("7195.24")


def test_429_makes_the_next_request_wait_retry_after() -> None:
    client, transport, _ = make_client()
    transport.on("POST", "/api/v3/order", err(429, -1015, "Too many new orders.", {"Retry-After": "5"}))
    with pytest.raises(RateLimited):
        client.submit(ORDER)
    transport.on("GET", "/api/v3/openOrders", [])
    client.open_orders("BTCUSDT")
    posted, read = transport.calls("/api/v3/order")[0], transport.calls("/api/v3/openOrders")[0]
    assert read.at_ms - posted.at_ms >= 5000


# --- governor ------------------------------------------------------------------------------------

def _to_boundary(clock: ManualClock, window_ms: int) -> int:
    return window_ms - clock.now_ms() % window_ms


def test_governor_sleeps_to_the_next_weight_window_before_crossing_the_limit() -> None:
    clock = ManualClock(1_700_000_020_000)
    governor = Governor(clock)
    governor.observe({"x-mbx-used-weight-1m": "5990"})
    start = clock.now_ms()
    governor.before(weight=10)
    assert clock.now_ms() == start  # 6000 fits exactly
    wait = _to_boundary(clock, 60_000)
    governor.before(weight=20)
    assert clock.now_ms() - start == wait
    assert governor.used(LimitKind.REQUEST_WEIGHT, "MINUTE", 1) == 0  # new window


def test_governor_counts_orders_per_leg() -> None:
    clock = ManualClock(1_700_000_003_000)
    governor = Governor(clock)
    governor.observe({"X-MBX-ORDER-COUNT-10S": "98", "X-MBX-ORDER-COUNT-1D": "500"})
    start = clock.now_ms()
    governor.before(weight=0, orders=2)
    assert clock.now_ms() == start
    governor.before(weight=0, orders=3)
    assert clock.now_ms() - start == _to_boundary(ManualClock(start), 10_000)


def test_client_feeds_the_governor_from_headers_and_exchange_info() -> None:
    info = builtin_exchange_info()
    info = {**info, "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                                     "intervalNum": 1, "limit": 100}]}
    client, transport, clock = make_client(clock=ManualClock(1_700_000_020_000))
    transport.on("GET", "/api/v3/exchangeInfo", ok(info, {"X-MBX-USED-WEIGHT-1M": "90"}))
    client.rules("BTCUSDT")
    assert client.governor.limits == (RateLimit("REQUEST_WEIGHT", "MINUTE", 1, 100),)
    transport.on("GET", "/api/v3/account", {"balances": []})
    before = clock.now_ms()
    client.balances()  # weight 20 would cross 100: waits for the next minute
    assert transport.calls("/api/v3/account")[0].at_ms - before == _to_boundary(ManualClock(before), 60_000)


def test_orders_on_the_client_wait_when_the_order_count_is_near_the_limit() -> None:
    client, transport, _ = make_client(clock=ManualClock(1_700_000_003_000))
    transport.on("POST", "/api/v3/order", ok(order_json(), {"X-MBX-ORDER-COUNT-10S": "99"}))
    client.submit(ORDER)
    transport.on("POST", "/api/v3/orderList/otoco", ok({
        "orderListId": 1, "contingencyType": "OTO", "listStatusType": "EXEC_STARTED",
        "listOrderStatus": "EXECUTING", "listClientOrderId": "L1", "symbol": "BTCUSDT",
        "transactionTime": 1, "orders": [], "orderReports": [order_json()]}))
    first = transport.calls("/api/v3/order")[0].at_ms
    client.submit(OTOCO)
    assert transport.calls("/api/v3/orderList/otoco")[0].at_ms - first == \
        _to_boundary(ManualClock(first), 10_000)
