"""Every code in the error table, exercised through a FakeTransport, for an order placement (a
write) and for a read; plus HTTP-status-only failures and the advice that needs context."""

from __future__ import annotations

from decimal import Decimal

import pytest
from binance_fakes import err, make_client, ok, order_json

from planrunner.errors import (
    AuthError,
    ExchangeError,
    InsufficientFunds,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    TransientError,
)
from planrunner.exchanges.base import ExchangeRequest
from planrunner.exchanges.binance import wire
from planrunner.exchanges.binance.client import RetryPolicy
from planrunner.exchanges.binance.errors import CODE_TABLE
from planrunner.exchanges.rules import builtin_exchange_info

U, T, A, N, R, F, L, E = (OutcomeUnknown, TransientError, AuthError, OrderNotFound, OrderRejected,
                          InsufficientFunds, RateLimited, ExchangeError)

# code -> (HTTP status, message, class for an order POST, class for a GET)
EXPECTED: dict[int, tuple[int, str, type, type]] = {
    -1000: (500, "An unknown error occurred while processing the request.", U, T),
    -1001: (500, "Internal error; unable to process your request. Please try again.", U, T),
    -1002: (401, "You are not authorized to execute this request.", A, A),
    -1003: (429, "Too much request weight used; current limit is 6000 request weight per 1 MINUTE.", L, L),
    -1006: (500, "An unexpected response was received from the message bus. Execution status unknown.", U, T),
    -1007: (500, "Timeout waiting for response from backend server. Send status unknown; execution status unknown.", U, T),
    -1008: (500, "Server is currently overloaded with other requests. Please try again in a few minutes.", U, T),
    -1013: (400, "Filter failure: LOT_SIZE", R, E),
    -1014: (400, "Unsupported order combination.", R, E),
    -1015: (429, "Too many new orders; current limit is 100 orders per 10 SECOND.", L, L),
    -1016: (400, "This service is no longer available.", T, T),
    -1021: (400, "Timestamp for this request is outside of the recvWindow.", T, T),
    -1022: (400, "Signature for this request is not valid.", A, A),
    -1100: (400, "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[a-zA-Z0-9-_]{1,36}$'.", R, E),
    -1102: (400, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.", R, E),
    -1104: (400, "Not all sent parameters were read; read '8' parameter(s) but was sent '9'.", R, E),
    -1106: (400, "Parameter 'price' sent when not required.", R, E),
    -1111: (400, "Parameter 'quantity' has too much precision.", R, E),
    -1112: (400, "No orders on book for symbol.", R, E),
    -1115: (400, "Invalid timeInForce.", R, E),
    -1116: (400, "Invalid orderType.", R, E),
    -1117: (400, "Invalid side.", R, E),
    -1121: (400, "Invalid symbol.", R, E),
    -1130: (400, "Data sent for parameter 'quantity' is not valid.", R, E),
    -1145: (400, "Invalid cancelRestrictions", R, E),
    -1158: (400, "Order type not supported in OCO.", R, E),
    -1165: (400, "A limit order in a buy OCO must be below.", R, E),
    -1166: (400, "A limit order in a sell OCO must be above.", R, E),
    -1168: (400, "At least one OCO order must be contingent.", R, E),
    -1196: (400, "A stop loss order in a buy OCO must be above.", R, E),
    -1197: (400, "A stop loss order in a sell OCO must be below.", R, E),
    -1198: (400, "A take profit order in a buy OCO must be below.", R, E),
    -1199: (400, "A take profit order in a sell OCO must be above.", R, E),
    -1222: (400, "OPO working order must be a buy.", R, E),
    -1223: (400, "OPO pending orders must be sells.", R, E),
    -2010: (400, "Order would trigger immediately.", R, E),
    -2011: (400, "Unknown order sent.", N, N),
    -2013: (400, "Order does not exist.", N, N),
    -2014: (401, "API-key format invalid.", A, A),
    -2015: (401, "Invalid API-key, IP, or permissions for action.", A, A),
    -2026: (400, "Order was canceled or expired with no executed qty over 90 days ago and has been archived.", N, N),
    -2039: (400, "Client order ID is not correct for this order ID.", R, E),
}

ORDER = wire.new_order_request(wire.order_params(
    "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.001"), price=Decimal(7000),
    time_in_force="GTC", client_order_id="pr-1"))


def _client():
    return make_client(retry=RetryPolicy(attempts=1))


def test_the_expected_table_covers_every_code_in_the_error_table() -> None:
    assert set(EXPECTED) == set(CODE_TABLE)


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_code_on_an_order_placement(code: int) -> None:
    status, message, write_cls, _ = EXPECTED[code]
    client, transport, _ = _client()
    transport.on("POST", "/api/v3/order", *[err(status, code, message)] * 2)
    with pytest.raises(ExchangeError) as info:
        client.submit(ORDER)
    error = info.value
    assert type(error) is write_cls
    assert (error.code, error.venue_message, error.http_status) == (code, message, status)
    assert str(code) in str(error) and message in str(error)
    # -1021 is retried once after a clock resync; nothing else re-sends an order
    assert len(transport.calls("/api/v3/order")) == (2 if code == -1021 else 1)


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_code_on_a_read(code: int) -> None:
    status, message, _, read_cls = EXPECTED[code]
    client, transport, _ = _client()
    transport.on("GET", "/api/v3/order", *[err(status, code, message)] * 2)
    with pytest.raises(ExchangeError) as info:
        client.query_order("BTCUSDT", "pr-1")
    assert type(info.value) is read_cls
    assert info.value.code == code and message in str(info.value)


@pytest.mark.parametrize("message, cls, words", [
    ("Account has insufficient balance for requested action.", InsufficientFunds, ["USDT", "7"]),
    ("Duplicate order sent.", OrderRejected, ["client order id"]),
    ("Order would immediately match and take.", OrderRejected, ["LIMIT_MAKER"]),
    ("The relationship of the prices for the orders is not correct.", OrderRejected, ["OCO"]),
    ("Market is closed.", OrderRejected, ["not trading"]),
    ("Stop loss orders are not supported for this symbol.", OrderRejected, ["another order type"]),
])
def test_engine_messages_of_2010(message: str, cls: type, words: list[str]) -> None:
    client, transport, _ = _client()
    transport.on("GET", "/api/v3/exchangeInfo", builtin_exchange_info())
    client.rules("BTCUSDT")
    transport.on("POST", "/api/v3/order", err(400, -2010, message))
    with pytest.raises(ExchangeError) as info:
        client.submit(ORDER)
    assert type(info.value) is cls
    for word in words:
        assert word in str(info.value)


def test_insufficient_sell_balance_names_the_base_asset() -> None:
    client, transport, _ = _client()
    transport.on("GET", "/api/v3/exchangeInfo", builtin_exchange_info())
    client.rules("BTCUSDT")
    transport.on("POST", "/api/v3/order", err(400, -2010, "Account has insufficient balance for requested action."))
    sell = wire.new_order_request(wire.order_params("BTCUSDT", "SELL", "MARKET", quantity=Decimal("0.5")))
    with pytest.raises(InsufficientFunds, match=r"BTC balance is short \(0.5 BTC needed\)"):
        client.submit(sell)


@pytest.mark.parametrize("filter_name, allowed", [
    ("LOT_SIZE", "multiples of 0.00001"),
    ("PRICE_FILTER", "multiples of 0.01"),
    ("NOTIONAL", "at least 5 USDT"),
])
def test_filter_failure_names_the_filter_and_the_allowed_value(filter_name: str, allowed: str) -> None:
    client, transport, _ = _client()
    transport.on("GET", "/api/v3/exchangeInfo", builtin_exchange_info())
    client.rules("BTCUSDT")
    transport.on("POST", "/api/v3/order", err(400, -1013, f"Filter failure: {filter_name}"))
    with pytest.raises(OrderRejected) as info:
        client.submit(ORDER)
    assert filter_name in str(info.value) and allowed in str(info.value)


def test_filter_failure_without_known_rules_still_names_the_filter() -> None:
    client, transport, _ = _client()
    transport.on("POST", "/api/v3/order", err(400, -1013, "Filter failure: PERCENT_PRICE_BY_SIDE"))
    with pytest.raises(OrderRejected, match="PERCENT_PRICE_BY_SIDE filter"):
        client.submit(ORDER)


def test_bad_symbol_says_how_to_write_it() -> None:
    client, transport, _ = _client()
    transport.on("GET", "/api/v3/ticker/price", err(400, -1121, "Invalid symbol."))
    with pytest.raises(ExchangeError, match="write the symbol as BTCUSDT"):
        client.last_price("BTC/USDT")


def test_cancel_restriction_refusal_is_a_rejection_not_not_found() -> None:
    client, transport, _ = _client()
    transport.on("DELETE", "/api/v3/order",
                 err(400, -2011, "Order was not canceled due to cancel restrictions."))
    with pytest.raises(OrderRejected):
        client.cancel_order("BTCUSDT", "pr-1")


@pytest.mark.parametrize("status, body, post_cls, get_cls", [
    (502, b"<html><body>Bad Gateway</body></html>", OutcomeUnknown, TransientError),
    (503, b"", OutcomeUnknown, TransientError),
    (400, b"<html>nope</html>", ExchangeError, ExchangeError),
    (404, b"", ExchangeError, ExchangeError),
    (403, b"<html>WAF</html>", ExchangeError, ExchangeError),
    (200, b"<html>maintenance</html>", OutcomeUnknown, ExchangeError),
    (200, b"", OutcomeUnknown, ExchangeError),
])
def test_non_json_bodies_name_the_http_status(status: int, body: bytes, post_cls: type,
                                               get_cls: type) -> None:
    client, transport, _ = _client()
    transport.on("POST", "/api/v3/order", err(status, body=body))
    transport.on("GET", "/api/v3/order", err(status, body=body))
    with pytest.raises(ExchangeError) as post:
        client.submit(ORDER)
    with pytest.raises(ExchangeError) as get:
        client.query_order("BTCUSDT", "pr-1")
    assert (type(post.value), type(get.value)) == (post_cls, get_cls)
    assert f"HTTP {status}" in str(post.value) and f"HTTP {status}" in str(get.value)
    assert post.value.http_status == status


def test_unknown_code_falls_back_on_the_http_status() -> None:
    client, transport, _ = _client()
    transport.on("POST", "/api/v3/order", err(400, -1999, "Something new."), err(504, -1999, "Gateway."))
    with pytest.raises(OrderRejected, match="-1999"):
        client.submit(ORDER)
    with pytest.raises(OutcomeUnknown, match="Gateway"):
        client.submit(ORDER)


def test_429_and_418_carry_retry_after() -> None:
    client, transport, _ = _client()
    transport.on("POST", "/api/v3/order", err(429, -1015, "Too many new orders.", {"Retry-After": "7"}))
    with pytest.raises(RateLimited) as limited:
        client.submit(ORDER)
    assert (limited.value.retry_after, limited.value.banned) == (7.0, False)
    transport.on("GET", "/api/v3/order", err(418, -1003, "Way too much request weight used; IP banned until 1.",
                                            {"Retry-After": "120"}))
    with pytest.raises(RateLimited) as banned:
        client.query_order("BTCUSDT", "pr-1")
    assert (banned.value.retry_after, banned.value.banned) == (120.0, True)
    assert "120 s" in str(banned.value)


def test_successful_order_is_parsed() -> None:
    client, transport, _ = _client()
    transport.on("POST", "/api/v3/order", ok(order_json(status="FILLED", executedQty="0.001")))
    snapshot = client.submit(ORDER)
    assert snapshot.status == "FILLED" and snapshot.executed_qty == Decimal("0.001")


def test_deprecated_oco_and_reads_cannot_be_submitted() -> None:
    client, transport, _ = _client()
    for request in (ExchangeRequest("POST", "/api/v3/order/oco", ORDER.params),
                    ExchangeRequest("GET", "/api/v3/order", ORDER.params)):
        with pytest.raises(ExchangeError, match="cannot submit"):
            client.submit(request)
    assert transport.sent == []
