"""The simulator's request pipeline, independent of HTTP plumbing: a parsed request in, a reply
out. Order of work, as Binance does it: injected pre-faults (429/418), request weight, then under
the market lock the market catches up, the SIGNED checks run and the handler executes; then the
post-faults (5xx after executing, dropped answer, delay) and the rate-limit headers.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from planrunner.errors import ExchangeError
from planrunner.sim import auth, routes
from planrunner.sim.control import Control
from planrunner.sim.errors import ApiError
from planrunner.sim.faults import AFTER, BEFORE, FaultBook, FaultKind
from planrunner.sim.market import SimMarket
from planrunner.sim.ratelimit import RateLimiter

log = logging.getLogger("planrunner.sim")
JSON_TYPE = "application/json;charset=UTF-8"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: str = ""
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # names lower-cased
    ip: str = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering
    delay_ms: int = 0


def _pairs(text: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, -1100, "Illegal characters found in a parameter.") from None
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise ApiError(400, -1101, "Duplicate values for a parameter detected.")
        out[key] = value
    return out


def parse_params(request: Request) -> dict[str, str]:
    """Query string and form body; the query string wins when both carry a parameter."""
    merged = _pairs(request.body) if request.method != "GET" else {}
    merged.update(_pairs(request.query))
    return merged


def _control_data(request: Request) -> dict[str, Any]:
    data: dict[str, Any] = dict(_pairs(request.query))
    if request.body and "json" in request.headers.get("content-type", ""):
        try:
            loaded = json.loads(request.body)
        except ValueError:
            raise ApiError(400, -1135, "Invalid JSON Request") from None
        if not isinstance(loaded, dict):
            raise ApiError(400, -1135, "Invalid JSON Request: expected an object")
        return {**loaded, **data}
    if request.body:
        return {**_pairs(request.body), **data}
    return data


def _json(status: int, data: Any, headers: Mapping[str, str] | None = None) -> Reply:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Reply(status, body, {"Content-Type": JSON_TYPE, **(headers or {})})


class SimApp:
    """One simulator: market, credentials, faults, rate limits. `handle` is thread safe."""

    def __init__(self, market: SimMarket, creds: auth.Credentials, limiter: RateLimiter,
                 faults: FaultBook, wall_now: Callable[[], int]):
        self.market, self.creds, self.limiter, self.faults = market, creds, limiter, faults
        self._wall_now = wall_now
        self.control = Control(market, faults, limiter, self.server_now, self.served)
        self._served: list[dict[str, Any]] = []
        self._served_lock = threading.Lock()

    def served(self) -> list[dict[str, Any]]:
        """Every Binance request answered so far (method, path, status), oldest first."""
        with self._served_lock:
            return list(self._served)

    def server_now(self) -> int:
        return self._wall_now() + self.faults.skew_ms

    def handle(self, request: Request) -> Reply:
        if request.path.startswith("/sim/"):
            return self._control(request)
        route = routes.find(request.method, request.path)
        reply = self._not_found(request) if route is None else self._binance(request, route)
        with self._served_lock:
            self._served.append({"method": request.method, "path": request.path,
                                 "status": reply.status, "dropped": reply.drop})
            del self._served[:-10_000]
        return reply

    def _control(self, request: Request) -> Reply:
        try:
            return _json(200, self.control.handle(request.method, request.path,
                                                  _control_data(request)))
        except ApiError as exc:
            return _json(exc.status, exc.body(), exc.headers)
        except ExchangeError as exc:
            return _json(400, {"code": exc.code or -1000, "msg": exc.venue_message or str(exc)})

    def _not_found(self, request: Request) -> Reply:
        methods = sorted(m for m, p in routes.ROUTES if p == request.path)
        hint = f"; this path takes {', '.join(methods)}" if methods else ""
        status = 405 if methods else 404
        return _json(status, {"code": -1000, "msg": f"No endpoint {request.method} "
                                                    f"{request.path} on the simulator{hint}."})

    def _binance(self, request: Request, route: routes.Route) -> Reply:
        headers: dict[str, str] = {}
        try:
            params = parse_params(request)
            self._pre_faults(request)
            weight = route.weight(params)
            headers["X-MBX-USED-WEIGHT-1M"] = str(self.limiter.admit(request.ip, weight))
            data = self._execute(request, route, params)
        except ApiError as exc:
            headers.setdefault("X-MBX-USED-WEIGHT-1M", str(self.limiter.used_weight(request.ip)))
            return _json(exc.status, exc.body(), {**headers, **exc.headers})
        if route.free_on_success:
            headers["X-MBX-USED-WEIGHT-1M"] = str(self.limiter.refund(request.ip, weight))
        if route.orders:
            headers.update(self.limiter.add_orders(route.orders))
        return self._post_faults(request, _json(200, data, headers))

    def _pre_faults(self, request: Request) -> None:
        fault = self.faults.take(request.path, BEFORE)
        if fault is None:
            return
        if fault.kind is FaultKind.BAN:
            raise self.limiter.ban(request.ip, fault.retry_after)
        raise ApiError(429, -1003, "Too much request weight used; current limit is 6000 request "
                       "weight per 1 MINUTE. Please use WebSocket Streams for live updates to "
                       "avoid polling the API.", {"Retry-After": str(fault.retry_after)})

    def _execute(self, request: Request, route: routes.Route, params: Mapping[str, str]) -> Any:
        with self.market.lock:
            self.market.catch_up()
            now = self.server_now()
            if route.signed:
                auth.check_api_key(request.headers, self.creds)
                auth.check_timing(params, now)
                auth.check_signature(request.query, request.body, self.creds)
            if route.orders:
                self.limiter.check_orders(route.orders)
            try:
                return route.handler(self.market, params, now)
            except ApiError:
                raise
            except ExchangeError as exc:
                raise ApiError(400, exc.code or -1000, exc.venue_message or str(exc)) from None
            except Exception as exc:  # a simulator bug must still answer like Binance would
                log.exception("simulator failure on %s %s", request.method, request.path)
                raise ApiError(500, -1000, "An unknown error occurred while processing the "
                                           f"request. ({type(exc).__name__})") from None

    def _post_faults(self, request: Request, reply: Reply) -> Reply:
        fault = self.faults.take(request.path, AFTER)
        if fault is None:
            return reply
        if fault.kind is FaultKind.DROP:
            return Reply(0, drop=True)
        if fault.kind is FaultKind.DELAY:
            return Reply(reply.status, reply.body, reply.headers, delay_ms=fault.ms)
        return _json(fault.status, {"code": -1000, "msg": "An unknown error occurred while "
                                                          "processing the request."},
                     {"X-MBX-USED-WEIGHT-1M": reply.headers.get("X-MBX-USED-WEIGHT-1M", "0")})
