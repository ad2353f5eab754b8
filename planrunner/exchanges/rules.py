"""Pure parsing of a Binance exchangeInfo symbol entry into MarketRules.

Shared by the paper exchange (whose built-in table is exchangeInfo-shaped JSON), the Binance
client and the simulator, so all three read filters the same way.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any, Mapping

from planrunner.exchanges.base import MarketRules
from planrunner.money import to_decimal


def _dec(filters: Mapping[str, Mapping[str, Any]], name: str, key: str) -> Decimal:
    raw = filters.get(name, {}).get(key)
    return to_decimal(str(raw)) if raw is not None else Decimal(0)


def _int(filters: Mapping[str, Mapping[str, Any]], name: str, key: str) -> int:
    raw = filters.get(name, {}).get(key)
    return int(raw) if raw is not None else 0


def _notional(filters: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    if "NOTIONAL" in filters:
        f = filters["NOTIONAL"]
        return dict(min_notional=_dec(filters, "NOTIONAL", "minNotional"),
                    max_notional=_dec(filters, "NOTIONAL", "maxNotional"),
                    apply_min_to_market=bool(f.get("applyMinToMarket", True)),
                    apply_max_to_market=bool(f.get("applyMaxToMarket", False)),
                    avg_price_mins=int(f.get("avgPriceMins", 5)))
    if "MIN_NOTIONAL" in filters:
        f = filters["MIN_NOTIONAL"]
        return dict(min_notional=_dec(filters, "MIN_NOTIONAL", "minNotional"),
                    apply_min_to_market=bool(f.get("applyToMarket", True)),
                    avg_price_mins=int(f.get("avgPriceMins", 5)))
    return {}


def _percent_price(filters: Mapping[str, Mapping[str, Any]]) -> dict[str, Decimal]:
    if "PERCENT_PRICE_BY_SIDE" in filters:
        name = "PERCENT_PRICE_BY_SIDE"
        return dict(bid_multiplier_up=_dec(filters, name, "bidMultiplierUp"),
                    bid_multiplier_down=_dec(filters, name, "bidMultiplierDown"),
                    ask_multiplier_up=_dec(filters, name, "askMultiplierUp"),
                    ask_multiplier_down=_dec(filters, name, "askMultiplierDown"))
    if "PERCENT_PRICE" in filters:
        up = _dec(filters, "PERCENT_PRICE", "multiplierUp")
        down = _dec(filters, "PERCENT_PRICE", "multiplierDown")
        return dict(bid_multiplier_up=up, bid_multiplier_down=down,
                    ask_multiplier_up=up, ask_multiplier_down=down)
    return {}


def parse_symbol(entry: Mapping[str, Any]) -> MarketRules:
    """One element of exchangeInfo `symbols[]` -> MarketRules. Raises KeyError/ValueError if malformed."""
    filters = {f["filterType"]: f for f in entry.get("filters", [])}
    return MarketRules(
        symbol=str(entry["symbol"]),
        base_asset=str(entry["baseAsset"]),
        quote_asset=str(entry["quoteAsset"]),
        status=str(entry.get("status", "TRADING")),
        base_asset_precision=int(entry.get("baseAssetPrecision", 8)),
        quote_asset_precision=int(entry.get("quoteAssetPrecision", entry.get("quotePrecision", 8))),
        tick_size=_dec(filters, "PRICE_FILTER", "tickSize"),
        min_price=_dec(filters, "PRICE_FILTER", "minPrice"),
        max_price=_dec(filters, "PRICE_FILTER", "maxPrice"),
        step_size=_dec(filters, "LOT_SIZE", "stepSize"),
        min_qty=_dec(filters, "LOT_SIZE", "minQty"),
        max_qty=_dec(filters, "LOT_SIZE", "maxQty"),
        market_step_size=_dec(filters, "MARKET_LOT_SIZE", "stepSize"),
        market_min_qty=_dec(filters, "MARKET_LOT_SIZE", "minQty"),
        market_max_qty=_dec(filters, "MARKET_LOT_SIZE", "maxQty"),
        **_notional(filters),
        **_percent_price(filters),
        min_trailing_above_delta=_int(filters, "TRAILING_DELTA", "minTrailingAboveDelta"),
        max_trailing_above_delta=_int(filters, "TRAILING_DELTA", "maxTrailingAboveDelta"),
        min_trailing_below_delta=_int(filters, "TRAILING_DELTA", "minTrailingBelowDelta"),
        max_trailing_below_delta=_int(filters, "TRAILING_DELTA", "maxTrailingBelowDelta"),
        max_num_orders=_int(filters, "MAX_NUM_ORDERS", "maxNumOrders"),
        max_num_algo_orders=_int(filters, "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders"),
        max_num_order_lists=_int(filters, "MAX_NUM_ORDER_LISTS", "maxNumOrderLists"),
        order_types=frozenset(entry.get("orderTypes", ())),
        oco_allowed=bool(entry.get("ocoAllowed", False)),
        oto_allowed=bool(entry.get("otoAllowed", False)),
        opo_allowed=bool(entry.get("opoAllowed", False)),
        allow_trailing_stop=bool(entry.get("allowTrailingStop", False)),
        quote_order_qty_market_allowed=bool(entry.get("quoteOrderQtyMarketAllowed", False)),
        is_spot_trading_allowed=bool(entry.get("isSpotTradingAllowed", True)),
    )


@lru_cache(maxsize=1)
def builtin_exchange_info() -> dict[str, Any]:
    """The paper exchange's built-in exchangeInfo (real Binance filter values for a few symbols)."""
    text = resources.files("planrunner.data").joinpath("exchange_info.json").read_text("utf-8")
    return json.loads(text)


def builtin_rules() -> dict[str, MarketRules]:
    return {s["symbol"]: parse_symbol(s) for s in builtin_exchange_info()["symbols"]}
