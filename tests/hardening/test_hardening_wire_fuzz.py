"""Exchange responses planrunner cannot use (HTML pages, empty or truncated bodies, arrays where
objects belong, wrong types, missing fields, huge or non-UTF-8 bodies), for every call the engine
makes: always an ExchangeError naming the HTTP status or the field, never KeyError, TypeError,
ValueError or JSONDecodeError; an unreadable 2xx answer to an order POST is OutcomeUnknown."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_fakes import CALLS, ORDER_POSTS, body, make_client, official_examples

from planrunner.errors import ExchangeError, OutcomeUnknown
from planrunner.exchanges.http import HttpResponse

EXAMPLES = official_examples()
HTML = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"


def _valid(endpoint: str) -> Any:
    return copy.deepcopy(EXAMPLES[endpoint])


def _truncated(endpoint: str) -> bytes:
    raw = json.dumps(_valid(endpoint)).encode()
    return raw[: max(1, len(raw) // 2)]


BAD_2XX = {
    "empty": lambda e: b"",
    "html": lambda e: HTML,
    "truncated json": _truncated,
    "array for object": lambda e: json.dumps([_valid(e)]).encode(),
    "object for array": lambda e: json.dumps({"symbol": "BTCUSDT"}).encode(),
    "null": lambda e: b"null",
    "number": lambda e: b"42",
    "string": lambda e: b'"ok"',
    "non-utf8": lambda e: b'{"symbol": "\xff\xfe"}',
    "deeply nested": lambda e: b"[" * 50_000 + b"]" * 50_000,
    "huge": lambda e: b'{"pad": "' + b"x" * 3_000_000 + b'"}',
    "NaN": lambda e: b'{"price": NaN, "orderId": NaN, "serverTime": NaN, "symbols": NaN}',
}


def _call(endpoint: str, answer: HttpResponse) -> BaseException | None:
    client, transport = make_client(EXAMPLES)
    transport.broken[endpoint] = lambda: answer
    try:
        CALLS[endpoint](client)
    except Exception as exc:  # the assertion below is the point: only ExchangeError may escape
        return exc
    return None


def _assert_clear(exc: BaseException | None, endpoint: str, answer: HttpResponse) -> None:
    assert isinstance(exc, ExchangeError), f"{endpoint}: {type(exc).__name__}: {exc}"
    text = str(exc)
    names_status = f"HTTP {answer.status}" in text
    names_field = "Binance's" in text and "response" in text
    assert names_status or names_field, text
    assert len(text) < 2000, "the message must not echo a huge body"


@pytest.mark.parametrize("kind", sorted(BAD_2XX))
@pytest.mark.parametrize("endpoint", sorted(CALLS))
def test_unusable_2xx_bodies_are_clear_exchange_errors(endpoint: str, kind: str) -> None:
    answer = HttpResponse(200, {}, BAD_2XX[kind](endpoint))
    exc = _call(endpoint, answer)
    _assert_clear(exc, endpoint, answer)
    if endpoint in ORDER_POSTS:
        assert isinstance(exc, OutcomeUnknown), exc


@pytest.mark.parametrize("status", [400, 403, 404, 418, 429, 500, 502, 503])
@pytest.mark.parametrize("page", ["html", "empty", "json without code", "truncated error"])
@pytest.mark.parametrize("endpoint", sorted(CALLS))
def test_error_statuses_with_non_binance_bodies(endpoint: str, page: str, status: int) -> None:
    raw = {"html": HTML, "empty": b"", "json without code": b'{"error": "nope"}',
           "truncated error": b'{"code": -2010, "msg": "Acc'}[page]
    answer = HttpResponse(status, {"Retry-After": "1"}, raw)
    exc = _call(endpoint, answer)
    assert isinstance(exc, ExchangeError), f"{endpoint}: {type(exc).__name__}: {exc}"
    assert f"HTTP {status}" in str(exc) or (status in (418, 429) and "rate limit" in str(exc)
                                            or "banned" in str(exc)), str(exc)
    if endpoint in ORDER_POSTS and status >= 500:
        assert isinstance(exc, OutcomeUnknown), exc


# --- hypothesis: official examples with fields dropped or retyped --------------------------------

def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.append(prefix + (key,))
            found.extend(_paths(item, prefix + (key,)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.append(prefix + (index,))
            found.extend(_paths(item, prefix + (index,)))
    return found


def _apply(doc: Any, path: tuple, action: str, replacement: Any) -> None:
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if action == "drop":
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement


REPLACEMENTS = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.text(max_size=12),
    st.sampled_from(["", "NaN", "-Infinity", "1e999", "0x10", "7195.24", "-1", " 5 "]),
    st.floats(allow_nan=False, allow_infinity=False), st.just([]), st.just({}),
    st.just([{"x": 1}]))


@settings(max_examples=400, deadline=None, derandomize=True)
@given(data=st.data())
def test_official_examples_with_fields_dropped_or_retyped(data) -> None:
    endpoint = data.draw(st.sampled_from(sorted(e for e in CALLS if e in EXAMPLES)))
    doc = _valid(endpoint)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        action = data.draw(st.sampled_from(["drop", "retype"]))
        _apply(doc, path, action, data.draw(REPLACEMENTS) if action == "retype" else None)
    answer = HttpResponse(200, {}, json.dumps(doc).encode())
    exc = _call(endpoint, answer)
    if exc is not None:
        _assert_clear(exc, endpoint, answer)
        if endpoint in ORDER_POSTS:
            assert isinstance(exc, OutcomeUnknown), exc


def test_every_call_works_on_the_valid_examples() -> None:
    """The fake answers the official examples, so every failure above is the damage."""
    for endpoint, call in CALLS.items():
        client, _ = make_client(EXAMPLES)
        call(client)


def test_an_error_body_is_never_echoed_whole() -> None:
    answer = body({"code": -2010, "msg": "Account has insufficient balance" + " x" * 50_000}, 400)
    exc = _call("POST /api/v3/order", answer)
    assert isinstance(exc, ExchangeError)


@pytest.mark.parametrize("endpoint", ["GET /api/v3/order", "POST /api/v3/order"])
def test_deeply_nested_error_body_is_a_plain_http_error(endpoint: str) -> None:
    answer = HttpResponse(400, {}, b"[" * 50_000 + b"]" * 50_000)
    exc = _call(endpoint, answer)
    assert isinstance(exc, ExchangeError) and "HTTP 400" in str(exc), exc


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**66, 2**66) | st.text(max_size=20)
    | st.sampled_from([-1013, -1021, -1022, -2010, -2011, -2015, -1006, -1003]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["code", "msg", "data", "symbol"]), inner, max_size=4),
    max_leaves=8)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(status=st.sampled_from([400, 401, 403, 404, 409, 418, 429, 500, 503]),
       code=JSON_VALUES, msg=JSON_VALUES,
       endpoint=st.sampled_from(["POST /api/v3/order", "GET /api/v3/order",
                                 "DELETE /api/v3/order", "GET /api/v3/account"]))
def test_error_bodies_with_any_code_and_msg_are_exchange_errors(status, code, msg, endpoint):
    answer = body({"code": code, "msg": msg}, status)
    exc = _call(endpoint, answer)
    assert isinstance(exc, ExchangeError), f"{type(exc).__name__}: {exc}"
    assert f"HTTP {status}" in str(exc) or "rate limit" in str(exc) or "banned" in str(exc), str(exc)
