"""The simulator's Binance route table: (method, path) -> handler, request weight (§8.4), whether
the endpoint is SIGNED, and how many new orders a success adds to the unfilled-order count.
Order placements and cancels cost 0 weight when they succeed (Binance, since 2026-04-02).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from planrunner.sim import marketdata as md
from planrunner.sim import trading as tr
from planrunner.sim.market import SimMarket

Handler = Callable[[SimMarket, Mapping[str, str], int], Any]
Weight = Callable[[Mapping[str, str]], int]


def fixed(weight: int) -> Weight:
    return lambda params: weight


def _by_symbol(with_symbol: int, without: int) -> Weight:
    return lambda params: with_symbol if params.get("symbol") else without


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    weight: Weight
    signed: bool = False
    orders: int = 0  # new orders a success places (unfilled-order count)
    free_on_success: bool = False  # placements and cancels: 0 weight when they succeed


def _order(handler: Handler, orders: int = 0) -> Route:
    return Route(handler, fixed(1), signed=True, orders=orders, free_on_success=True)


def _signed(handler: Handler, weight: Weight) -> Route:
    return Route(handler, weight, signed=True)


_LISTS = {"oco": 2, "oto": 2, "otoco": 3, "opo": 2, "opoco": 3}

ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/api/v3/ping"): Route(md.ping, fixed(1)),
    ("GET", "/api/v3/time"): Route(md.server_time, fixed(1)),
    ("GET", "/api/v3/exchangeInfo"): Route(md.exchange_info, fixed(20)),
    ("GET", "/api/v3/ticker/price"): Route(md.ticker_price, _by_symbol(2, 4)),
    ("GET", "/api/v3/ticker/24hr"): Route(md.ticker_24hr, md.ticker_24hr_weight),
    ("GET", "/api/v3/ticker/bookTicker"): Route(md.book_ticker, _by_symbol(2, 4)),
    ("GET", "/api/v3/depth"): Route(md.depth, md.depth_weight),
    ("GET", "/api/v3/avgPrice"): Route(md.avg_price, fixed(2)),
    ("GET", "/api/v3/klines"): Route(md.klines, fixed(2)),
    ("POST", "/api/v3/order"): _order(tr.new_order, 1),
    ("POST", "/api/v3/order/test"): _signed(
        tr.test_order, lambda p: 20 if p.get("computeCommissionRates", "").lower() == "true" else 1),
    ("GET", "/api/v3/order"): _signed(tr.query_order, fixed(4)),
    ("DELETE", "/api/v3/order"): _order(tr.cancel_order),
    ("GET", "/api/v3/openOrders"): _signed(tr.open_orders, _by_symbol(6, 80)),
    ("DELETE", "/api/v3/openOrders"): _order(tr.cancel_open_orders),
    ("POST", "/api/v3/order/oco"): _order(tr.legacy_oco, 2),
    ("DELETE", "/api/v3/orderList"): _order(tr.cancel_order_list),
    ("GET", "/api/v3/orderList"): _signed(tr.query_order_list, fixed(4)),
    ("GET", "/api/v3/openOrderList"): _signed(tr.open_order_lists, fixed(6)),
    ("GET", "/api/v3/allOrders"): _signed(tr.all_orders, fixed(20)),
    ("GET", "/api/v3/account"): _signed(tr.account, fixed(20)),
    ("GET", "/api/v3/myTrades"): _signed(tr.my_trades, lambda p: 5 if p.get("orderId") else 20),
    ("GET", "/api/v3/account/commission"): _signed(tr.commission, fixed(20)),
    **{("POST", f"/api/v3/orderList/{kind}"): _order(tr.new_order_list(f"/api/v3/orderList/{kind}"), legs)
       for kind, legs in _LISTS.items()},
}


def find(method: str, path: str) -> Route | None:
    return ROUTES.get((method, path))


def known_path(path: str) -> bool:
    return any(p == path for _, p in ROUTES)
