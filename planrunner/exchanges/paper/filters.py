"""Binance's pre-engine checks for one order spec: symbol status, order-type and feature flags,
and the symbol filters (§6.1), each failing with Binance's exact code and message.

Filters run in the order Binance lists them in exchangeInfo: PRICE_FILTER, LOT_SIZE,
MARKET_LOT_SIZE, TRAILING_DELTA, PERCENT_PRICE_BY_SIDE, NOTIONAL, then the open-order counts.
The paper market has no average price, so the reference price for PERCENT_PRICE_BY_SIDE and
NOTIONAL is the last trade price; with no last price yet, those two filters are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from planrunner.exchanges.base import MarketRules
from planrunner.exchanges.paper.orders import STOP_TYPES, OrderSpec, rejected, rises_to_trigger
from planrunner.money import ZERO, is_on_grid

_TYPE_OFF = {
    "MARKET": "Market orders are not supported for this symbol.",
    "STOP_LOSS": "Stop loss orders are not supported for this symbol.",
    "STOP_LOSS_LIMIT": "Stop loss limit orders are not supported for this symbol.",
    "TAKE_PROFIT": "Take profit orders are not supported for this symbol.",
    "TAKE_PROFIT_LIMIT": "Take profit limit orders are not supported for this symbol.",
}


def failure(name: str) -> Exception:
    return rejected(-1013, f"Filter failure: {name}")


def check_symbol(rules: MarketRules) -> None:
    if rules.status != "TRADING":
        raise rejected(-2010, "Market is closed.")
    if not rules.is_spot_trading_allowed:
        raise rejected(-2010, "This symbol is not permitted for this account.")


def check_features(spec: OrderSpec, rules: MarketRules) -> None:
    """Order type and feature flags of the symbol (-2010 with the §7.3 texts)."""
    if not rules.allows(spec.type):
        raise rejected(-2010, _TYPE_OFF.get(spec.type, "Unsupported order combination"))
    if spec.trailing_delta is not None and not rules.allow_trailing_stop:
        raise rejected(-2010, "Trailing stop orders are not supported for this symbol.")
    if spec.quote_order_qty is not None and not rules.quote_order_qty_market_allowed:
        raise rejected(-2010, "Quote order qty market orders are not support for this symbol.")


def _in_range(value: Decimal, low: Decimal, high: Decimal, step: Decimal) -> bool:
    if low > ZERO and value < low:
        return False
    if high > ZERO and value > high:
        return False
    return is_on_grid(value, step)


def _price_filter(spec: OrderSpec, rules: MarketRules) -> None:
    for value in (spec.price, spec.stop_price):
        if value is not None and not _in_range(value, rules.min_price, rules.max_price,
                                               rules.tick_size):
            raise failure("PRICE_FILTER")


def _lot_size(spec: OrderSpec, qty: Decimal | None, rules: MarketRules) -> None:
    if qty is None:
        return
    if not _in_range(qty, rules.min_qty, rules.max_qty, rules.step_size):
        raise failure("LOT_SIZE")
    if spec.type == "MARKET" and not _in_range(qty, rules.market_min_qty, rules.market_max_qty,
                                               rules.market_step_size):
        raise failure("MARKET_LOT_SIZE")


def _trailing_delta(spec: OrderSpec, rules: MarketRules) -> None:
    delta = spec.trailing_delta
    if delta is None:
        return
    if rises_to_trigger(spec.type, spec.side):
        low, high = rules.min_trailing_above_delta, rules.max_trailing_above_delta
    else:
        low, high = rules.min_trailing_below_delta, rules.max_trailing_below_delta
    if delta <= 0 or (low > 0 and delta < low) or (high > 0 and delta > high):
        raise failure("TRAILING_DELTA")


def _percent_price(spec: OrderSpec, rules: MarketRules, ref: Decimal | None) -> None:
    if ref is None or spec.price is None:
        return
    if spec.side == "BUY":
        up, down = rules.bid_multiplier_up, rules.bid_multiplier_down
    else:
        up, down = rules.ask_multiplier_up, rules.ask_multiplier_down
    if (up > ZERO and spec.price > ref * up) or (down > ZERO and spec.price < ref * down):
        raise failure("PERCENT_PRICE_BY_SIDE")


def _notional_value(spec: OrderSpec, qty: Decimal | None, ref: Decimal | None) -> Decimal | None:
    if spec.quote_order_qty is not None:
        return spec.quote_order_qty
    if qty is None:
        return None
    if spec.price is not None:
        return spec.price * qty
    unit = spec.stop_price if spec.stop_price is not None else ref
    return None if unit is None else unit * qty


def _notional(spec: OrderSpec, qty: Decimal | None, rules: MarketRules, ref: Decimal | None) -> None:
    value = _notional_value(spec, qty, ref)
    if value is None:
        return
    market_like = spec.price is None  # MARKET, and STOP_LOSS / TAKE_PROFIT which become MARKET
    check_min = rules.min_notional > ZERO and (not market_like or rules.apply_min_to_market)
    check_max = rules.max_notional > ZERO and (not market_like or rules.apply_max_to_market)
    if (check_min and value < rules.min_notional) or (check_max and value > rules.max_notional):
        raise failure("NOTIONAL")


def check_filters(spec: OrderSpec, rules: MarketRules, last_price: Decimal | None,
                  qty: Decimal | None = None) -> None:
    """All symbol filters for one order. `qty` overrides spec.quantity (quoteOrderQty MARKET)."""
    qty = spec.quantity if qty is None else qty
    _price_filter(spec, rules)
    _lot_size(spec, qty, rules)
    _trailing_delta(spec, rules)
    _percent_price(spec, rules, last_price)
    _notional(spec, qty, rules, last_price)


@dataclass(frozen=True, slots=True)
class OpenCounts:
    """Open orders, open stop/take-profit (algo) orders and open lists on one symbol."""

    orders: int = 0
    algo: int = 0
    lists: int = 0


def count_new(specs: tuple[OrderSpec, ...], lists: int) -> OpenCounts:
    return OpenCounts(len(specs), sum(1 for s in specs if s.type in STOP_TYPES), lists)


def check_counts(rules: MarketRules, current: OpenCounts, new: OpenCounts) -> None:
    """MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS, MAX_NUM_ORDER_LISTS (a list is rejected as a whole)."""
    if rules.max_num_orders and current.orders + new.orders > rules.max_num_orders:
        raise failure("MAX_NUM_ORDERS")
    if rules.max_num_algo_orders and new.algo and current.algo + new.algo > rules.max_num_algo_orders:
        raise failure("MAX_NUM_ALGO_ORDERS")
    if rules.max_num_order_lists and new.lists and \
            current.lists + new.lists > rules.max_num_order_lists:
        raise failure("MAX_NUM_ORDER_LISTS")
