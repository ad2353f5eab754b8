"""The Binance Spot REST client: the Exchange protocol over signed HTTP calls, with server-time
sync, the retry policy (reads and cancels retry with jittered backoff; an order POST is never
re-sent), the rate-limit governor, the exchangeInfo cache and one log line per call.

Every seam (transport, signer, clock, random source) is a constructor parameter.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from planrunner.clock import Clock, SystemClock
from planrunner.errors import ExchangeError, OutcomeUnknown, RateLimited, TransientError
from planrunner.exchanges.base import (
    Balance,
    Capabilities,
    ExchangeRequest,
    Fill,
    MarketContext,
    MarketRules,
    OrderListSnapshot,
    OrderSnapshot,
)
from planrunner.exchanges.binance import wire
from planrunner.exchanges.binance.errors import (
    CallContext,
    classify,
    parse_reply,
    unreadable_success,
)
from planrunner.exchanges.binance.governor import Governor
from planrunner.exchanges.binance.signing import (
    Signer,
    encode_params,
    missing_credentials_error,
    signed_payload,
    signer_from_env,
)
from planrunner.exchanges.http import HttpResponse, RequestsTransport, Transport

log = logging.getLogger("planrunner.binance")

BASE_URLS = {"binance": "https://api.binance.com", "binance-testnet": "https://testnet.binance.vision"}
ENV_BASE_URL = "PLANRUNNER_BINANCE_URL"

# Documented request weights (reference §8.4); unknown paths count 1.
WEIGHTS = {
    "GET /api/v3/time": 1, "GET /api/v3/exchangeInfo": 20, "GET /api/v3/ticker/price": 2,
    "GET /api/v3/klines": 2, "GET /api/v3/order": 4, "GET /api/v3/openOrders": 6,
    "GET /api/v3/orderList": 4, "GET /api/v3/account": 20, "GET /api/v3/myTrades": 20,
    "POST /api/v3/order/test": 1,
}


class CallKind(StrEnum):
    READ = "read"  # GET: retried
    CANCEL = "cancel"  # DELETE: retried only when nothing happened
    ORDER = "order"  # POST: never re-sent (except the safe -1021 resync)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 4  # total tries of a retryable call
    base_delay: float = 0.5  # seconds; doubles per attempt
    max_delay: float = 8.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** attempt))
        return ceiling / 2 + rng.random() * ceiling / 2


@dataclass(frozen=True, slots=True)
class _Call:
    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    signed: bool
    kind: CallKind
    orders: int = 0
    symbol: str | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"


def base_url_for(venue: str, env: Mapping[str, str]) -> str:
    override = env.get(ENV_BASE_URL, "").strip()
    if override:
        return override.rstrip("/")
    if venue not in BASE_URLS:
        raise ExchangeError(f"unknown Binance venue {venue!r}; use one of {', '.join(BASE_URLS)}")
    return BASE_URLS[venue]


class BinanceClient:
    """Binance Spot over REST. Implements planrunner.exchanges.base.Exchange."""

    def __init__(self, *, transport: Transport, clock: Clock, signer: Signer | None = None,
                 base_url: str = BASE_URLS["binance"], name: str = "binance",
                 recv_window_ms: int = 5000, timeout: float = 10.0,
                 retry: RetryPolicy = RetryPolicy(), rng: random.Random | None = None,
                 rules_ttl_ms: int = 15 * 60_000, governor: Governor | None = None):
        self._transport = transport
        self._clock = clock
        self._signer = signer
        self._base_url = base_url.rstrip("/")
        self._name = name
        self._recv_window = recv_window_ms
        self._timeout = timeout
        self._retry = retry
        self._rng = rng or random.Random()
        self._rules_ttl_ms = rules_ttl_ms
        self._offset_ms: int | None = None
        self._rules: dict[str, tuple[int, MarketRules]] = {}
        self._governor = governor or Governor(clock, now=self._server_now)

    @classmethod
    def from_env(cls, venue: str = "binance", *, env: Mapping[str, str] | None = None,
                 transport: Transport | None = None, clock: Clock | None = None,
                 **kw: Any) -> BinanceClient:
        """Credentials and base URL from the environment (BINANCE_*, PLANRUNNER_BINANCE_URL)."""
        env = os.environ if env is None else env
        return cls(transport=transport or RequestsTransport(), clock=clock or SystemClock(),
                   signer=signer_from_env(env), base_url=base_url_for(venue, env), name=venue, **kw)

    @property
    def governor(self) -> Governor:
        return self._governor

    @property
    def time_offset_ms(self) -> int | None:
        return self._offset_ms

    # --- Exchange protocol ----------------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        return Capabilities(name=self._name, order_test=True, live=True)

    def market_context(self, symbol: str) -> MarketContext:
        rules = self.rules(symbol)
        return MarketContext(rules=rules, last_price=self.last_price(symbol),
                             commission=self.account().commission)

    def last_price(self, symbol: str) -> Decimal:
        data = self._read("/api/v3/ticker/price", (("symbol", symbol),), signed=False)
        return wire.parse_ticker_price(data)

    def submit(self, request: ExchangeRequest) -> OrderSnapshot | OrderListSnapshot:
        legs = self._check_submit(request)
        call = _Call("POST", request.path, request.params, True, CallKind.ORDER, legs,
                     request.param("symbol"))
        data = self._execute(call)
        try:
            return self._placed(data, request)
        except ExchangeError as exc:
            # Binance answered 2xx: the order exists even though its state could not be read.
            raise OutcomeUnknown(f"Binance accepted {request.endpoint} but planrunner could not "
                                 f"read the result ({exc}); look the order up by its client id, "
                                 "never re-send it", code=exc.code, venue_message=exc.venue_message,
                                 http_status=exc.http_status) from None

    def _placed(self, data: Any, request: ExchangeRequest) -> OrderSnapshot | OrderListSnapshot:
        if request.path == "/api/v3/order":
            return self._order_from(data)
        if wire.has_full_reports(data):
            return wire.parse_order_list(data, "order list")
        return self._list_with_legs(data)

    def test_order(self, request: ExchangeRequest, compute_commission: bool = False) -> wire.OrderTestResult:
        """POST /api/v3/order/test: validate an order without placing it."""
        if request.endpoint != "POST /api/v3/order":
            raise ExchangeError(f"only POST /api/v3/order can be tested, not {request.endpoint}")
        extra = (("computeCommissionRates", "true"),) if compute_commission else ()
        call = _Call("POST", "/api/v3/order/test", request.params + extra, True, CallKind.READ,
                     0, request.param("symbol"))
        return wire.parse_test_order(self._execute(call, weight=20 if compute_commission else 1))

    def query_order(self, symbol: str, client_order_id: str, *,
                    order_id: int | None = None) -> OrderSnapshot:
        # Binance accepts both ids only when they name the same order, and a cancel renames the
        # client id: by order id alone when it is known.
        params = (wire.order_ref_params(symbol, order_id=order_id) if order_id is not None
                  else wire.order_ref_params(symbol, client_order_id=client_order_id))
        return wire.parse_order(self._read("/api/v3/order", params), "query order")

    def query_order_list(self, list_client_order_id: str) -> OrderListSnapshot:
        # Binance names the list's client id `origClientOrderId` on this endpoint.
        data = self._read("/api/v3/orderList", (("origClientOrderId", list_client_order_id),))
        return self._list_with_legs(data)

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderSnapshot:
        params = wire.order_ref_params(symbol, client_order_id=client_order_id)
        data = self._execute(_Call("DELETE", "/api/v3/order", params, True, CallKind.CANCEL, 0, symbol))
        return wire.parse_order(data, "cancel order")

    def cancel_order_list(self, symbol: str, list_client_order_id: str) -> OrderListSnapshot:
        params = (("symbol", symbol), ("listClientOrderId", list_client_order_id))
        data = self._execute(_Call("DELETE", "/api/v3/orderList", params, True, CallKind.CANCEL, 0, symbol))
        if wire.has_full_reports(data):
            return wire.parse_order_list(data, "cancel order list")
        return self._list_with_legs(data)

    def order_trades(self, symbol: str, order_id: int) -> tuple[Fill, ...]:
        """GET /api/v3/myTrades?symbol=&orderId= (weight 5): the order's real fills."""
        return tuple(t.fill for t in self.my_trades(symbol, order_id=order_id)
                     if t.order_id == order_id)

    def open_orders(self, symbol: str) -> tuple[OrderSnapshot, ...]:
        return wire.parse_orders(self._read("/api/v3/openOrders", (("symbol", symbol),)))

    def balances(self) -> tuple[Balance, ...]:
        return self.account().balances

    # --- more endpoints -------------------------------------------------------------------------

    def account(self) -> wire.Account:
        return wire.parse_account(self._read("/api/v3/account", ()))

    def my_trades(self, symbol: str, order_id: int | None = None) -> tuple[wire.AccountTrade, ...]:
        params = wire.my_trades_params(symbol, order_id=order_id)
        return wire.parse_trades(self._read("/api/v3/myTrades", params,
                                            weight=5 if order_id is not None else 20))

    def klines(self, symbol: str, interval: str, *, start_ms: int | None = None,
               end_ms: int | None = None, limit: int | None = None) -> tuple[wire.Kline, ...]:
        params = wire.klines_params(symbol, interval, start_ms=start_ms, end_ms=end_ms, limit=limit)
        return wire.parse_klines(self._read("/api/v3/klines", params, signed=False))

    def exchange_info(self, symbol: str | None = None) -> wire.ExchangeInfo:
        params = (("symbol", symbol),) if symbol else ()
        info = wire.parse_exchange_info(self._read("/api/v3/exchangeInfo", params, signed=False))
        if info.rate_limits:
            self._governor.configure(info.rate_limits)
        return info

    def rules(self, symbol: str) -> MarketRules:
        """Market rules from exchangeInfo, cached for `rules_ttl_ms` of the injected clock."""
        cached = self._rules.get(symbol)
        now = self._clock.now_ms()
        if cached is not None and now - cached[0] < self._rules_ttl_ms:
            return cached[1]
        info = self.exchange_info(symbol)
        if symbol not in info.symbols:
            raise ExchangeError(f"Binance's exchangeInfo has no symbol {symbol}; write the symbol "
                                "as BTCUSDT (base then quote asset)")
        self._rules[symbol] = (now, info.symbols[symbol])
        return info.symbols[symbol]

    def server_time(self) -> int:
        return wire.parse_server_time(self._read("/api/v3/time", (), signed=False))

    def sync_time(self) -> int:
        """Measure the server-clock offset: serverTime minus the local midpoint of the call."""
        sent = self._clock.now_ms()
        server = self.server_time()
        received = self._clock.now_ms()
        self._offset_ms = server - (sent + received) // 2
        return self._offset_ms

    # --- plumbing -------------------------------------------------------------------------------

    def _server_now(self) -> int:
        return self._clock.now_ms() + (self._offset_ms or 0)

    def _read(self, path: str, params: tuple[tuple[str, str], ...], *, signed: bool = True,
              weight: int | None = None) -> Any:
        symbol = dict(params).get("symbol")
        return self._execute(_Call("GET", path, params, signed, CallKind.READ, 0, symbol), weight)

    def _check_submit(self, request: ExchangeRequest) -> int:
        if request.method != "POST" or not (request.path == "/api/v3/order"
                                            or request.path in wire.ORDER_LIST_PATHS):
            raise ExchangeError(f"cannot submit {request.endpoint}: only POST /api/v3/order and "
                                "/api/v3/orderList/{oco,oto,otoco,opo,opoco} place orders")
        return wire.LIST_LEGS.get(request.path, 1)

    def _order_from(self, data: Any) -> OrderSnapshot:
        if not wire.is_ack(data):
            return wire.parse_order(data, "new order")
        ref = wire.parse_ack(data)  # ACK carries ids only: read the full state back
        return self.query_order(ref.symbol, ref.client_order_id)

    def _list_with_legs(self, data: Any) -> OrderListSnapshot:
        legs = tuple(self.query_order(ref.symbol, ref.client_order_id)
                     for ref in wire.parse_leg_refs(data))
        return wire.parse_order_list(data, "order list", legs=legs)

    def _execute(self, call: _Call, weight: int | None = None) -> Any:
        """Send with the retry policy; return the decoded JSON body."""
        cost = weight if weight is not None else WEIGHTS.get(call.endpoint, 1)
        resynced = False
        attempt = 0
        while True:
            try:
                return self._attempt(call, cost)
            except TransientError as exc:
                if exc.code == -1021 and not resynced:
                    resynced = True  # a clean rejection before the engine: safe even for POST
                    self.sync_time()
                    continue
                attempt += 1
                if not self._should_retry(call, exc, attempt):
                    raise
                self._clock.sleep(max(self._retry.delay(attempt - 1, self._rng),
                                      getattr(exc, "retry_after", None) or 0))

    def _should_retry(self, call: _Call, exc: TransientError, attempt: int) -> bool:
        if call.kind is CallKind.ORDER or attempt >= self._retry.attempts:
            return False
        return not (isinstance(exc, RateLimited) and exc.banned)

    def _attempt(self, call: _Call, cost: int) -> Any:
        if call.signed and self._signer is None:
            raise missing_credentials_error()
        if call.signed and self._offset_ms is None:
            self.sync_time()
        self._governor.before(cost, call.orders)
        url, headers, body = self._prepare(call)
        started = self._clock.now_ms()
        try:
            response = self._transport.send(call.method, url, headers=headers, body=body,
                                            timeout=self._timeout)
        except ExchangeError as exc:
            log.info("%s %s no-response %dms weight=-", call.method, call.path,
                     self._clock.now_ms() - started)
            if isinstance(exc, OutcomeUnknown) and call.kind is CallKind.READ:
                # A read changes nothing, so "may have executed" is harmless: retry it.
                raise TransientError(f"{call.endpoint} got no answer (timed out or the connection "
                                     "dropped); reads are safe to retry") from None
            raise
        self._log(call, response, self._clock.now_ms() - started)
        self._governor.observe(response.headers)
        return self._decode(call, response)

    def _prepare(self, call: _Call) -> tuple[str, dict[str, str], bytes | None]:
        params = call.params
        headers: dict[str, str] = {}
        if call.signed:
            assert self._signer is not None
            params = params + (("recvWindow", str(self._recv_window)),
                               ("timestamp", str(self._server_now())))
            encoded = signed_payload(params, self._signer)
            headers["X-MBX-APIKEY"] = self._signer.api_key
        else:
            encoded = encode_params(params)
        url = f"{self._base_url}{call.path}"
        if call.method == "POST":
            # Sent as the form body, byte for byte what was signed.
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return url, headers, encoded.encode("ascii")
        return (f"{url}?{encoded}" if encoded else url), headers, None

    def _log(self, call: _Call, response: HttpResponse, elapsed_ms: int) -> None:
        used = response.header("X-MBX-USED-WEIGHT-1M") or "-"
        log.info("%s %s %s %dms weight=%s", call.method, call.path, response.status,
                 elapsed_ms, used)

    def _decode(self, call: _Call, response: HttpResponse) -> Any:
        ctx = CallContext(call.method, call.path, dict(call.params), self._cached_rules(call.symbol))
        if 200 <= response.status < 300:
            try:
                return json.loads(response.body.decode("utf-8"), parse_float=Decimal)
            except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: [[[[...
                raise unreadable_success(response.status, ctx) from None
        reply = parse_reply(response.status, response.body, response.header("Retry-After"))
        error = classify(reply, ctx)
        if isinstance(error, RateLimited):
            self._note_rate_limit(error)
        raise error

    def _note_rate_limit(self, error: RateLimited) -> None:
        wait = error.retry_after if error.retry_after is not None else 60.0
        if error.banned:
            self._governor.ban(wait)
        else:
            self._governor.cooldown(wait)

    def _cached_rules(self, symbol: str | None) -> MarketRules | None:
        cached = self._rules.get(symbol) if symbol else None
        return cached[1] if cached else None
