"""Which exchange a plan talks to. The composition root asks here; nothing else picks venues.

Until the paper exchange exists, `market_context` for paper reads the built-in rules and the
paper feed's opening price.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Mapping, Sequence

from planrunner.errors import CompileError
from planrunner.exchanges.base import Capabilities, MarketContext
from planrunner.exchanges.rules import builtin_rules

if TYPE_CHECKING:
    from pathlib import Path

    from planrunner.clock import Clock
    from planrunner.exchanges.paper.exchange import PaperExchange

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


def open_paper_exchange(path: Path | str | None = None, *, clock: Clock | None = None,
                        speed: int | Decimal | None = None, seed: int | None = None,
                        kline_files: Mapping[str, Sequence[str]] | None = None) -> PaperExchange:
    """The paper account at `path` (default: $PLANRUNNER_PAPER_DIR or ./.paper, file account.json).

    A new account gets the default feed: the bundled BTCUSDT sample, the seeded walk (seed 0
    unless given) elsewhere, or `kline_files` per symbol. An existing account keeps the feed it
    was created with; asking for a different seed or files is refused with a clear StateError.
    Raises StateCorrupt (file untouched) when the account file is unreadable.
    """
    from planrunner.clock import SystemClock
    from planrunner.exchanges.paper.exchange import DEFAULT_SPEED, PaperExchange
    from planrunner.exchanges.paper.feed import FeedError, PriceFeed, default_feed
    from planrunner.exchanges.paper.store import PaperStore, default_account_path

    store = PaperStore(path if path is not None else default_account_path())
    record = store.load()
    if record is not None and seed is None and kline_files is None:
        try:
            feed = PriceFeed.from_spec(record.feed_spec)
        except (FeedError, OSError) as exc:  # a damaged account file, or a price file gone
            raise store.corrupt(f"its price feed cannot be restored ({exc})") from None
    else:
        ticks = {s: r.tick_size for s, r in builtin_rules().items()}
        feed = default_feed(ticks, PAPER_OPENING_PRICES, seed=seed or 0, kline_files=kline_files)
    return PaperExchange(store, feed, clock or SystemClock(),
                         DEFAULT_SPEED if speed is None else speed)


VENUES = ("paper", "binance", "binance-testnet")


def open_exchange(name: str, *, clock: Clock | None = None, speed: Decimal | None = None):
    """The Exchange for a plan's `exchange:` field, and the tick that moves its market (paper
    only; a real market moves by itself). Credentials come from the environment."""
    if name == "paper":
        paper = open_paper_exchange(clock=clock, speed=speed)
        return paper, paper.advance
    if name in ("binance", "binance-testnet"):
        import os

        from planrunner.exchanges.binance.client import BinanceClient
        from planrunner.exchanges.binance.signing import missing_credentials_error, signer_from_env
        if signer_from_env(os.environ) is None:  # fail before any network call
            raise missing_credentials_error()
        return BinanceClient.from_env(name, clock=clock), None
    raise CompileError(f"unknown exchange {name!r}: use one of {', '.join(VENUES)}")


def open_capabilities(name: str) -> Capabilities:
    """Capabilities without opening a connection: they depend on the venue kind only."""
    if name == "paper":
        return paper_capabilities()
    return Capabilities(name=name, order_test=True, live=True)


def read_market_context(name: str, symbol: str) -> MarketContext:
    """Market context for `plan`, which must not write anything: the paper account is read only
    if it exists (its current price), else the built-in rules and the feed's opening price."""
    if name != "paper":
        exchange, _ = open_exchange(name)
        return exchange.market_context(symbol)
    from planrunner.exchanges.paper.store import default_account_path
    if default_account_path().is_file():
        return open_paper_exchange().market_context(symbol)
    return paper_market_context(symbol)


class MarketTimeClock:
    """The engine's clock on paper: timestamps and due times (expire_after) in the paper
    market's time, which runs at --speed; waiting between polls in wall time."""

    def __init__(self, paper: PaperExchange, wall: Clock):
        self._paper = paper
        self._wall = wall

    def now_ms(self) -> int:
        return self._paper.market_time_ms

    def sleep(self, seconds: float) -> None:
        self._wall.sleep(seconds)


def engine_clock(exchange: object, wall: Clock) -> Clock:
    """Market time for the paper exchange (its market moves at --speed), wall time elsewhere."""
    from planrunner.exchanges.paper.exchange import PaperExchange
    return MarketTimeClock(exchange, wall) if isinstance(exchange, PaperExchange) else wall
