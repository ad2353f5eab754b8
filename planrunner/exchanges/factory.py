"""Which exchange a plan talks to. The composition root asks here; nothing else picks venues.

Until the paper exchange exists, `market_context` for paper reads the built-in rules and the
paper feed's opening price.
"""

from __future__ import annotations

from decimal import Decimal

from planrunner.errors import CompileError
from planrunner.exchanges.base import Capabilities, MarketContext
from planrunner.exchanges.rules import builtin_rules

# Opening price of each symbol's bundled paper feed (BTCUSDT: the real 2020-01-01 1m sample).
PAPER_OPENING_PRICES = {
    "BTCUSDT": Decimal("7195.24"),
    "ETHUSDT": Decimal("130.00"),
    "BNBBTC": Decimal("0.001900"),
    "SOLUSDT": Decimal("150.00"),
}


def paper_capabilities() -> Capabilities:
    return Capabilities(name="paper")


def paper_market_context(symbol: str) -> MarketContext:
    rules = builtin_rules()
    if symbol not in rules:
        known = ", ".join(sorted(rules))
        raise CompileError(f"the paper exchange has no symbol {symbol}; it knows {known}")
    return MarketContext(rules=rules[symbol], last_price=PAPER_OPENING_PRICES[symbol])
