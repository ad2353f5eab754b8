"""Test doubles for the Binance client: a scripted FakeTransport (passed into the client's
constructor), response helpers and access to the shared data corpora."""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from planrunner.clock import ManualClock
from planrunner.exchanges.binance.client import BinanceClient, RetryPolicy
from planrunner.exchanges.binance.signing import HmacSigner
from planrunner.exchanges.http import HttpResponse

API_KEY = "test-api-key-AAAA"
SECRET = "s3cr3t-hmac-value-ZZZZ"
BASE = "https://api.example.test"

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def shared_json(relative: str) -> Any:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared test data {relative} is not available at {path.resolve()}")
    return json.loads(path.read_text("utf-8"))


def ok(data: Any, headers: Mapping[str, str] | None = None, status: int = 200) -> HttpResponse:
    return HttpResponse(status, dict(headers or {}), json.dumps(data).encode("utf-8"))


def err(status: int, code: int | None = None, msg: str = "", headers: Mapping[str, str] | None = None,
        body: bytes | None = None) -> HttpResponse:
    if body is None:
        body = json.dumps({"code": code, "msg": msg}).encode("utf-8")
    return HttpResponse(status, dict(headers or {}), body)


@dataclass(frozen=True)
class Sent:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None
    at_ms: int = 0

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def raw_params(self) -> str:
        return self.body.decode("ascii") if self.body is not None else urlsplit(self.url).query

    @property
    def params(self) -> list[tuple[str, str]]:
        return parse_qsl(self.raw_params, keep_blank_values=True)

    def param_dict(self) -> dict[str, str]:
        return dict(self.params)


class FakeTransport:
    """Answers scripted responses per (method, path) in order; /api/v3/time answers itself
    from the clock plus `server_offset_ms` unless scripted. Records everything sent."""

    def __init__(self, clock: ManualClock, server_offset_ms: int = 0, latency_ms: int = 0):
        self.clock = clock
        self.server_offset_ms = server_offset_ms
        self.latency_ms = latency_ms
        self.sent: list[Sent] = []
        self._script: dict[tuple[str, str], deque[Any]] = {}

    def on(self, method: str, path: str, *responses: Any) -> FakeTransport:
        self._script.setdefault((method, path), deque()).extend(responses)
        return self

    def send(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None,
             timeout: float) -> HttpResponse:
        sent = Sent(method, url, dict(headers), body, self.clock.now_ms())
        self.sent.append(sent)
        # the server handles the request halfway through the round trip
        self.clock.advance(self.latency_ms // 2)
        try:
            return self._answer(sent)
        finally:
            self.clock.advance(self.latency_ms - self.latency_ms // 2)

    def _answer(self, sent: Sent) -> HttpResponse:
        queue = self._script.get((sent.method, sent.path))
        if queue:
            item = queue.popleft()
            if isinstance(item, BaseException):
                raise item
            return item if isinstance(item, HttpResponse) else ok(item)
        if sent.path == "/api/v3/time":
            return ok({"serverTime": self.clock.now_ms() + self.server_offset_ms})
        raise AssertionError(f"unscripted request {sent.method} {sent.path}")

    def calls(self, path: str) -> list[Sent]:
        return [s for s in self.sent if s.path == path]

    def non_time(self) -> list[Sent]:
        return [s for s in self.sent if s.path != "/api/v3/time"]


def make_client(clock: ManualClock | None = None, transport: FakeTransport | None = None,
                seed: int = 7, **kw: Any) -> tuple[BinanceClient, FakeTransport, ManualClock]:
    clock = clock or ManualClock()
    transport = transport or FakeTransport(clock)
    kw.setdefault("signer", HmacSigner(API_KEY, SECRET))
    kw.setdefault("retry", RetryPolicy())
    client = BinanceClient(transport=transport, clock=clock, base_url=BASE,
                           rng=random.Random(seed), **kw)
    return client, transport, clock


def order_json(**over: Any) -> dict[str, Any]:
    base = {"symbol": "BTCUSDT", "orderId": 11, "orderListId": -1, "clientOrderId": "pr-1",
            "transactTime": 1_700_000_000_000, "price": "7000.00", "origQty": "0.00100000",
            "executedQty": "0.00000000", "origQuoteOrderQty": "0.00000000",
            "cummulativeQuoteQty": "0.00000000", "status": "NEW", "timeInForce": "GTC",
            "type": "LIMIT", "side": "BUY", "workingTime": 1_700_000_000_000,
            "selfTradePreventionMode": "NONE", "fills": []}
    base.update(over)
    return base
