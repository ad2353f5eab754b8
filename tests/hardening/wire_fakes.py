"""A tiny exchange transport for the response-fuzz tests: every call gets a valid answer built
from Binance's official examples, except the one endpoint a test breaks."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from planrunner.clock import ManualClock
from planrunner.exchanges.base import ExchangeRequest
from planrunner.exchanges.binance.client import BinanceClient, RetryPolicy
from planrunner.exchanges.binance.signing import HmacSigner
from planrunner.exchanges.http import HttpResponse

EXAMPLES_FILE = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data" /
                 "binance-spot-api-docs" / "spot-api-docs-examples.json")
Answer = Callable[[], HttpResponse]


def official_examples() -> dict[str, Any]:
    """endpoint -> the first official response example for it."""
    if not EXAMPLES_FILE.exists():
        pytest.skip(f"the official examples are not available at {EXAMPLES_FILE}")
    examples: dict[str, Any] = {}
    for item in json.loads(EXAMPLES_FILE.read_text("utf-8"))["examples"]:
        endpoint = item.get("endpoint")
        if endpoint and endpoint not in examples and item.get("label", "") != "**Response - ACK:**":
            examples[endpoint] = item["parsed"]
    return examples


def body(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(status, {}, json.dumps(data).encode("utf-8"))


class ScriptedExchange:
    """Transport: `broken` answers for one "METHOD /path"; valid official examples elsewhere."""

    def __init__(self, clock: ManualClock, examples: Mapping[str, Any]):
        self.clock = clock
        self.examples = examples
        self.broken: dict[str, Answer] = {}
        self.sent: list[tuple[str, str, Mapping[str, str], bytes | None]] = []

    def send(self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None,
             timeout: float) -> HttpResponse:
        self.sent.append((method, url, dict(headers), body))
        endpoint = f"{method} {urlsplit(url).path}"
        if endpoint in self.broken:
            return self.broken[endpoint]()
        if endpoint == "GET /api/v3/time":
            return globals()["body"]({"serverTime": self.clock.now_ms()})
        return globals()["body"](copy.deepcopy(self.examples[_valid_source(endpoint)]))


def _valid_source(endpoint: str) -> str:
    # The order-list query example is a query answer; a cancel answer has reports too.
    return {"DELETE /api/v3/orderList": "DELETE /api/v3/orderList"}.get(endpoint, endpoint)


def make_client(examples: Mapping[str, Any]) -> tuple[BinanceClient, ScriptedExchange]:
    clock = ManualClock()
    transport = ScriptedExchange(clock, examples)
    client = BinanceClient(transport=transport, clock=clock,
                           signer=HmacSigner("fuzz-key", "fuzz-secret"), base_url="https://x.test",
                           retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02),
                           rng=random.Random(1))
    return client, transport


ORDER = ExchangeRequest("POST", "/api/v3/order", (
    ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
    ("quantity", "0.001"), ("price", "7000"), ("newClientOrderId", "hx-1"),
    ("newOrderRespType", "FULL")))
OCO = ExchangeRequest("POST", "/api/v3/orderList/oco", (
    ("symbol", "BTCUSDT"), ("side", "SELL"), ("quantity", "0.001"), ("listClientOrderId", "hx-l"),
    ("aboveType", "LIMIT_MAKER"), ("abovePrice", "8000"), ("belowType", "STOP_LOSS"),
    ("belowStopPrice", "6000")))

# endpoint broken -> the client call that reads it
CALLS: dict[str, Callable[[BinanceClient], Any]] = {
    "POST /api/v3/order": lambda c: c.submit(ORDER),
    "POST /api/v3/orderList/oco": lambda c: c.submit(OCO),
    "GET /api/v3/order": lambda c: c.query_order("BTCUSDT", "hx-1"),
    "GET /api/v3/orderList": lambda c: c.query_order_list("hx-l"),
    "DELETE /api/v3/order": lambda c: c.cancel_order("BTCUSDT", "hx-1"),
    "DELETE /api/v3/orderList": lambda c: c.cancel_order_list("BTCUSDT", "hx-l"),
    "GET /api/v3/openOrders": lambda c: c.open_orders("BTCUSDT"),
    "GET /api/v3/account": lambda c: c.account(),
    "GET /api/v3/exchangeInfo": lambda c: c.exchange_info(),
    "GET /api/v3/ticker/price": lambda c: c.last_price("BTCUSDT"),
    "GET /api/v3/myTrades": lambda c: c.my_trades("BTCUSDT"),
    "GET /api/v3/time": lambda c: c.sync_time(),
}
ORDER_POSTS = {"POST /api/v3/order", "POST /api/v3/orderList/oco"}
