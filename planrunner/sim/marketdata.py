"""The simulator's public endpoints (security NONE): ping, time, exchangeInfo, ticker/price,
ticker/24hr, ticker/bookTicker, depth, avgPrice and klines, answered from the built-in
exchangeInfo, the market's trade tape and the open orders.

Klines and the 24 h ticker aggregate the trades the market has seen so far (feed ticks and
/sim/price moves); the simulator has no volume, so volume fields are zero. It has no order book
either: depth and the book ticker show the account's own resting LIMIT orders, by price.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from planrunner.exchanges.base import OrderSnapshot
from planrunner.exchanges.rules import builtin_exchange_info
from planrunner.sim.errors import ApiError
from planrunner.sim.market import SimMarket, Trade
from planrunner.sim.responses import is_working, places

Params = Mapping[str, str]
INTERVALS = {"1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000,
             "30m": 1_800_000, "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000,
             "6h": 21_600_000, "8h": 28_800_000, "12h": 43_200_000, "1d": 86_400_000,
             "3d": 259_200_000, "1w": 604_800_000}
AVG_PRICE_MINS = 5
DAY_MS = 86_400_000
DEPTH_DEFAULT, DEPTH_MAX = 100, 5000


def invalid_symbol() -> ApiError:
    return ApiError(400, -1121, "Invalid symbol.")


def mandatory(name: str) -> ApiError:
    return ApiError(400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def bad_value(name: str) -> ApiError:
    return ApiError(400, -1130, f"Data sent for parameter '{name}' is not valid.")


def int_param(params: Params, name: str, default: int | None = None) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.lstrip("-").isdigit():
        raise ApiError(400, -1100, f"Illegal characters found in parameter '{name}'; legal range "
                                   "is '^[0-9]{1,20}$'.")
    return int(raw)


def known_symbol(market: SimMarket, params: Params) -> str:
    symbol = params.get("symbol")
    if not symbol:
        raise mandatory("symbol")
    if symbol not in market.rules:
        raise invalid_symbol()
    return symbol


def _symbol_list(market: SimMarket, raw: str) -> list[str]:
    try:
        names = json.loads(raw)
    except ValueError:
        raise ApiError(400, -1135, "JSON sent for parameter 'symbols' is not valid") from None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise bad_value("symbols")
    if len(set(names)) != len(names):
        raise ApiError(400, -1151, "Symbol is present multiple times in the list.")
    if any(n not in market.rules for n in names):
        raise invalid_symbol()
    return names


def _wanted(market: SimMarket, params: Params) -> list[str] | None:
    if params.get("symbol"):
        return [known_symbol(market, params)]
    if params.get("symbols"):
        return _symbol_list(market, params["symbols"])
    return None


def ping(market: SimMarket, params: Params, now_ms: int) -> Any:
    return {}


def server_time(market: SimMarket, params: Params, now_ms: int) -> Any:
    return {"serverTime": now_ms}


def exchange_info(market: SimMarket, params: Params, now_ms: int) -> Any:
    info = copy.deepcopy(builtin_exchange_info())
    wanted = _wanted(market, params)
    symbols = [s for s in info["symbols"] if s["symbol"] in market.rules]
    if wanted is not None:
        symbols = [s for s in symbols if s["symbol"] in wanted]
    return {"timezone": "UTC", "serverTime": now_ms, "rateLimits": info["rateLimits"],
            "exchangeFilters": info.get("exchangeFilters", []), "symbols": symbols, "sors": []}


def _last(market: SimMarket, symbol: str) -> Decimal:
    price = market.engine.last_price(symbol)
    if price is None:
        raise ApiError(400, -1112, "No orders on book for symbol.")
    return price


def _price_row(market: SimMarket, symbol: str) -> dict[str, str]:
    digits = market.rules[symbol].quote_asset_precision
    return {"symbol": symbol, "price": places(_last(market, symbol), digits)}


def ticker_price(market: SimMarket, params: Params, now_ms: int) -> Any:
    wanted = _wanted(market, params)
    if params.get("symbol"):
        return _price_row(market, known_symbol(market, params))
    names = wanted if wanted is not None else sorted(market.rules)
    return [_price_row(market, s) for s in names if market.engine.last_price(s) is not None]


def avg_price(market: SimMarket, params: Params, now_ms: int) -> Any:
    symbol = known_symbol(market, params)
    tape = market.tape(symbol)
    if not tape:
        raise ApiError(400, -1112, "No orders on book for symbol.")
    since = tape[-1].time_ms - AVG_PRICE_MINS * 60_000
    recent = [t.price for t in tape if t.time_ms > since] or [tape[-1].price]
    digits = market.rules[symbol].quote_asset_precision
    return {"mins": AVG_PRICE_MINS, "price": places(sum(recent, Decimal(0)) / len(recent), digits),
            "closeTime": tape[-1].time_ms}


def _buckets(tape: tuple[Trade, ...], size: int) -> list[list[Trade]]:
    buckets: dict[int, list[Trade]] = {}
    for trade in tape:
        buckets.setdefault(trade.time_ms - trade.time_ms % size, []).append(trade)
    return [buckets[k] for k in sorted(buckets)]


def _kline(trades: list[Trade], size: int, digits: int) -> list[Any]:
    opened = trades[0].time_ms - trades[0].time_ms % size
    prices = [t.price for t in trades]
    zero = places(Decimal(0), 8)
    return [opened, places(prices[0], digits), places(max(prices), digits),
            places(min(prices), digits), places(prices[-1], digits), zero, opened + size - 1,
            zero, len(trades), zero, zero, "0"]


def klines(market: SimMarket, params: Params, now_ms: int) -> Any:
    symbol = known_symbol(market, params)
    interval = params.get("interval")
    if not interval:
        raise mandatory("interval")
    if interval not in INTERVALS:
        raise ApiError(400, -1120, "Invalid interval.")
    limit = int_param(params, "limit", 500) or 500
    if not 1 <= limit <= 1000:
        raise bad_value("limit")
    size = INTERVALS[interval]
    start, end = int_param(params, "startTime"), int_param(params, "endTime")
    rows = [_kline(b, size, market.rules[symbol].quote_asset_precision)
            for b in _buckets(market.tape(symbol), size)]
    rows = [r for r in rows if (start is None or r[0] >= start) and (end is None or r[0] <= end)]
    return rows[:limit] if start is not None else rows[-limit:]


# --- the "book": the account's own resting LIMIT orders -----------------------------------------

Level = tuple[Decimal, Decimal]  # (price, quantity left)


def _rests(order: OrderSnapshot) -> bool:
    return is_working(order) and (order.type == "LIMIT_MAKER" or order.type.endswith("LIMIT"))


def book(market: SimMarket, symbol: str) -> tuple[list[Level], list[Level]]:
    """(bids best first, asks best first): open LIMIT / LIMIT_MAKER orders (and triggered
    *_LIMIT stops that are working) aggregated by price, with the quantity still unfilled."""
    sides: dict[str, dict[Decimal, Decimal]] = {"BUY": {}, "SELL": {}}
    for order in market.engine.open_orders(symbol):
        left = order.orig_qty - order.executed_qty
        if _rests(order) and left > 0:
            levels = sides[order.side]
            levels[order.price] = levels.get(order.price, Decimal(0)) + left
    bids = sorted(sides["BUY"].items(), key=lambda lv: lv[0], reverse=True)
    asks = sorted(sides["SELL"].items(), key=lambda lv: lv[0])
    return bids, asks


def _update_id(market: SimMarket, symbol: str) -> int:
    """Grows whenever the symbol's book or tape changes: trades seen, plus per order one for
    placing, one per fill and one for leaving the book."""
    orders = [o for o in market.engine.all_orders() if o.symbol == symbol]
    return market.trades_seen(symbol) + sum(1 + len(o.fills) + int(o.status.is_final)
                                            for o in orders)


def depth_limit(params: Params) -> int:
    limit = int_param(params, "limit", DEPTH_DEFAULT)
    if limit is None or limit < 1:
        raise bad_value("limit")
    return min(limit, DEPTH_MAX)  # Binance truncates a larger limit to 5000


def depth_weight(params: Params) -> int:
    try:
        limit = min(max(int(params.get("limit") or DEPTH_DEFAULT), 1), DEPTH_MAX)
    except ValueError:
        limit = DEPTH_DEFAULT
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def depth(market: SimMarket, params: Params, now_ms: int) -> Any:
    symbol = known_symbol(market, params)
    limit = depth_limit(params)
    rules = market.rules[symbol]
    bids, asks = book(market, symbol)

    def rows(levels: list[Level]) -> list[list[str]]:
        return [[places(p, rules.quote_asset_precision), places(q, rules.base_asset_precision)]
                for p, q in levels[:limit]]

    return {"lastUpdateId": _update_id(market, symbol), "bids": rows(bids), "asks": rows(asks)}


def _top(market: SimMarket, symbol: str) -> dict[str, str]:
    rules = market.rules[symbol]
    bids, asks = book(market, symbol)
    zero = (Decimal(0), Decimal(0))
    (bid, bid_qty), (ask, ask_qty) = (bids or [zero])[0], (asks or [zero])[0]
    px, qty = rules.quote_asset_precision, rules.base_asset_precision
    return {"bidPrice": places(bid, px), "bidQty": places(bid_qty, qty),
            "askPrice": places(ask, px), "askQty": places(ask_qty, qty)}


def book_ticker(market: SimMarket, params: Params, now_ms: int) -> Any:
    if params.get("symbol"):
        symbol = known_symbol(market, params)
        return {"symbol": symbol, **_top(market, symbol)}
    names = _wanted(market, params) or sorted(market.rules)
    return [{"symbol": s, **_top(market, s)} for s in names]


# --- 24 h rolling ticker ------------------------------------------------------------------------

def ticker_24hr_weight(params: Params) -> int:
    if params.get("symbol"):
        return 2
    raw = params.get("symbols")
    if not raw:
        return 80
    try:
        count = len(json.loads(raw))
    except (ValueError, TypeError):
        count = 1
    return 2 if count <= 20 else 40 if count <= 100 else 80


def _ticker_24hr(market: SimMarket, symbol: str, full: bool) -> dict[str, Any]:
    rules = market.rules[symbol]
    px, qty = rules.quote_asset_precision, rules.base_asset_precision
    tape = market.tape(symbol)
    last = _last(market, symbol)
    close_ms = max(market.market_time_ms, tape[-1].time_ms if tape else 0)
    open_ms = close_ms - DAY_MS
    window = [t for t in tape if t.time_ms > open_ms]
    before = [t for t in tape if t.time_ms <= open_ms]
    prices = [t.price for t in window] or [last]
    opening = prices[0]
    zero = places(Decimal(0), qty)
    mini: dict[str, Any] = {
        "symbol": symbol, "openPrice": places(opening, px), "highPrice": places(max(prices), px),
        "lowPrice": places(min(prices), px), "lastPrice": places(last, px), "volume": zero,
        "quoteVolume": places(Decimal(0), px), "openTime": open_ms, "closeTime": close_ms,
        "firstId": window[0].id if window else -1, "lastId": window[-1].id if window else -1,
        "count": len(window)}
    if not full:
        return mini
    change = last - opening
    percent = change / opening * 100 if opening else Decimal(0)
    average = sum(prices, Decimal(0)) / len(prices)  # no volume: the plain average of the window
    prev_close = before[-1].price if before else opening
    return {"symbol": symbol, "priceChange": places(change, px),
            "priceChangePercent": places(percent, 3), "weightedAvgPrice": places(average, px),
            "prevClosePrice": places(prev_close, px), "lastPrice": mini["lastPrice"],
            "lastQty": zero, **_top(market, symbol),
            **{k: mini[k] for k in ("openPrice", "highPrice", "lowPrice", "volume", "quoteVolume",
                                    "openTime", "closeTime", "firstId", "lastId", "count")}}


def ticker_24hr(market: SimMarket, params: Params, now_ms: int) -> Any:
    kind = params.get("type") or "FULL"
    if kind not in ("FULL", "MINI"):
        raise ApiError(400, -1139, "Invalid ticker type.")
    full = kind == "FULL"
    if params.get("symbol"):
        return _ticker_24hr(market, known_symbol(market, params), full)
    names = _wanted(market, params) or sorted(market.rules)
    return [_ticker_24hr(market, s, full) for s in names if market.engine.last_price(s) is not None]
