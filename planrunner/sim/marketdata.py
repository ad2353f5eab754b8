"""The simulator's public endpoints (security NONE): ping, time, exchangeInfo, ticker/price,
avgPrice and klines, answered from the built-in exchangeInfo and the market's trade tape.

Klines aggregate the trades the market has seen so far (feed ticks and /sim/price moves); the
simulator has no volume, so volume fields are zero.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from planrunner.exchanges.rules import builtin_exchange_info
from planrunner.sim.errors import ApiError
from planrunner.sim.market import SimMarket, Trade
from planrunner.sim.responses import places

Params = Mapping[str, str]
INTERVALS = {"1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000,
             "30m": 1_800_000, "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000,
             "6h": 21_600_000, "8h": 28_800_000, "12h": 43_200_000, "1d": 86_400_000,
             "3d": 259_200_000, "1w": 604_800_000}
AVG_PRICE_MINS = 5


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
