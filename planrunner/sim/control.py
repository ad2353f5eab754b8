"""The simulator's control API under /sim/ (not Binance's; JSON in and out, no signature): move
the price, list every order and the balances, inject and clear faults, and cancel an order "by
hand in the exchange app" (for drift tests).

  POST   /sim/price   symbol, price           a trade now; matching runs at once
  GET    /sim/orders                          every order ever placed
  GET    /sim/balances
  GET    /sim/faults | POST /sim/faults | DELETE /sim/faults
  POST   /sim/cancel  symbol, origClientOrderId or orderId
  GET    /sim/time                            server and market time
  GET    /sim/requests                        every Binance request answered (method, path, status)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from planrunner.exchanges.base import OrderSnapshot
from planrunner.money import to_decimal
from planrunner.sim import responses as r
from planrunner.sim import trading
from planrunner.sim.errors import ApiError
from planrunner.sim.faults import FaultBook, parse_fault
from planrunner.sim.market import PartialFill, SimMarket
from planrunner.sim.marketdata import known_symbol, mandatory
from planrunner.sim.ratelimit import RateLimiter


class Control:
    """The /sim/ endpoints over one simulator's market, faults and rate limiter."""

    def __init__(self, market: SimMarket, faults: FaultBook, limiter: RateLimiter,
                 server_now: Callable[[], int], served: Callable[[], list[dict[str, Any]]]):
        self._market, self._faults, self._limiter = market, faults, limiter
        self._server_now, self._served = server_now, served
        self._routes: dict[tuple[str, str], Callable[[Mapping[str, Any]], Any]] = {
            ("POST", "/sim/price"): self.price, ("GET", "/sim/orders"): self.orders,
            ("GET", "/sim/balances"): self.balances, ("GET", "/sim/faults"): self.list_faults,
            ("POST", "/sim/faults"): self.add_fault, ("DELETE", "/sim/faults"): self.clear_faults,
            ("POST", "/sim/cancel"): self.cancel, ("GET", "/sim/time"): self.time,
            ("GET", "/sim/requests"): self.requests,
        }

    def handle(self, method: str, path: str, data: Mapping[str, Any]) -> Any:
        handler = self._routes.get((method, path))
        if handler is None:
            known = ", ".join(sorted(f"{m} {p}" for m, p in self._routes))
            raise ApiError(404, -1000, f"No control endpoint {method} {path}; there are: {known}")
        return handler(data)

    def price(self, data: Mapping[str, Any]) -> Any:
        market = self._market
        symbol = known_symbol(market, {k: str(v) for k, v in data.items()})
        raw = data.get("price")
        if raw in (None, ""):
            raise mandatory("price")
        try:
            price = to_decimal(str(raw))
        except ValueError:
            raise ApiError(400, -1130, f"price must be a decimal number, got {raw!r}") from None
        if price <= 0:
            raise ApiError(400, -1130, f"price must be positive, got {raw}")
        with market.lock:
            market.catch_up()
            changed = market.set_price(symbol, price)
            return {"symbol": symbol, "price": str(price), "marketTime": market.market_time_ms,
                    "changed": [self._order(o) for o in changed]}

    def _order(self, order: OrderSnapshot) -> dict[str, Any]:
        out = r.order_query(order, self._market.rules[order.symbol], self._market.client_id(order))
        out["origClientOrderId"] = order.client_order_id  # the id it was placed with
        out["fills"] = [r.fill_json(f, self._market.rules[order.symbol]) for f in order.fills]
        return out

    def orders(self, data: Mapping[str, Any]) -> Any:
        market = self._market
        with market.lock:
            market.catch_up()
            engine = market.engine
            orders = engine.all_orders()
            list_ids = {o.order_list_id for o in orders if o.order_list_id >= 0}
            names = {i: engine.query_order_list(order_list_id=i).list_client_order_id
                     for i in list_ids}
            rows = []
            for order in orders:
                row = self._order(order)
                row["listClientOrderId"] = names.get(order.order_list_id)
                rows.append(row)
            return {"orders": rows}

    def balances(self, data: Mapping[str, Any]) -> Any:
        with self._market.lock:
            self._market.catch_up()
            return {"balances": [{"asset": b.asset, "free": str(b.free), "locked": str(b.locked)}
                                 for b in self._market.engine.balances()]}

    def list_faults(self, data: Mapping[str, Any]) -> Any:
        with self._market.lock:
            partial = [p.to_json() for p in self._market.partial_fills]
        return {**self._faults.to_json(), "partial_fills": partial}

    def add_fault(self, data: Mapping[str, Any]) -> Any:
        if data.get("kind") == "partial":
            rule = self._partial(data)
            with self._market.lock:
                self._market.partial_fills.append(rule)
        else:
            self._faults.add(parse_fault(data))
        return self.list_faults(data)

    def _partial(self, data: Mapping[str, Any]) -> PartialFill:
        symbol = known_symbol(self._market, {"symbol": str(data.get("symbol", ""))})
        try:
            fraction = to_decimal(str(data.get("fraction", "")))
        except ValueError:
            fraction = Decimal(-1)
        if not 0 < fraction < 1:
            raise ApiError(400, -1130, "a partial fill needs 'fraction' strictly between 0 and "
                                       f"1, got {data.get('fraction')!r}")
        client_id = data.get("client_order_id")
        return PartialFill(symbol, fraction, None if client_id in (None, "") else str(client_id))

    def clear_faults(self, data: Mapping[str, Any]) -> Any:
        self._faults.clear()
        self._limiter.clear_bans()
        with self._market.lock:
            self._market.partial_fills.clear()
        return self.list_faults(data)

    def cancel(self, data: Mapping[str, Any]) -> Any:
        params = {k: str(v) for k, v in data.items()}
        market = self._market
        with market.lock:
            market.catch_up()
            return trading.cancel_order(market, params, self._server_now())

    def time(self, data: Mapping[str, Any]) -> Any:
        return {"serverTime": self._server_now(), "marketTime": self._market.market_time_ms}

    def requests(self, data: Mapping[str, Any]) -> Any:
        return {"requests": self._served()}
