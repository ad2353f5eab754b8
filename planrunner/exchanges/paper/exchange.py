"""The paper exchange: the Exchange protocol over the matching engine, a price feed and a
persisted account.

Market time is the feed's time, not the wall clock: it starts at the feed's first candle and runs
`speed` times faster than the injected Clock, but only while something calls `advance()` (the
engine's tick hook does, between polls). Market time stands still between runs, so an account
resumes exactly where it stopped. Every change (an order, a cancel, delivered trades) is saved to
the account file before the call returns; engine errors pass through unchanged.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Mapping

from planrunner.clock import Clock
from planrunner.errors import CompileError, ExchangeError, StateError
from planrunner.exchanges.base import (Balance, Capabilities, Commission, ExchangeRequest, Fill,
                                       MarketContext, MarketRules, OrderListSnapshot,
                                       OrderSnapshot)
from planrunner.exchanges.paper.feed import FeedError, FeedState, PriceFeed
from planrunner.exchanges.paper.store import AccountRecord, PaperStore
from planrunner.exchanges.rules import builtin_rules

DEFAULT_BALANCES: Mapping[str, Decimal] = {
    "USDT": Decimal("10000"), "BTC": Decimal("1"), "ETH": Decimal("10"),
    "SOL": Decimal("100"), "BNB": Decimal("50"),
}
DEFAULT_SPEED = 60  # one market minute per wall second: a paper plan plays out in minutes


class MarketClock:
    """Market time that runs `speed` times faster than the wall clock, from an anchor.

    speed 3600 turns one wall second into one market hour; speed 0 freezes market time (only
    explicit jumps move it). Re-anchoring after a jump keeps later readings monotonic.
    """

    def __init__(self, clock: Clock, market_ms: int, speed: int | Decimal = 1):
        if speed < 0:
            raise FeedError(f"speed must be zero or positive, not {speed}")
        self._clock = clock
        self.speed = Decimal(speed)
        self.reanchor(market_ms)

    def reanchor(self, market_ms: int) -> None:
        self._wall_anchor = self._clock.now_ms()
        self._market_anchor = market_ms

    def now_ms(self) -> int:
        elapsed = max(0, self._clock.now_ms() - self._wall_anchor)
        return self._market_anchor + int(elapsed * self.speed)


def _matching_engine_type() -> Callable[..., Any]:
    from planrunner.exchanges.paper.matching import MatchingEngine
    return MatchingEngine


class PaperExchange:
    """Exchange protocol implementation for `exchange: paper` (and the simulator's engine host).

    `engine_type` is the matching engine class (a seam for tests); it must offer the
    MatchingEngine API, including `from_dict(data, rules, commission=...)`.
    """

    def __init__(self, store: PaperStore, feed: PriceFeed, clock: Clock,
                 speed: int | Decimal = DEFAULT_SPEED, *,
                 rules: Mapping[str, MarketRules] | None = None,
                 commission: Commission = Commission(),
                 balances: Mapping[str, Decimal] | None = None,
                 engine_type: Callable[..., Any] | None = None):
        self._rules = dict(rules if rules is not None else builtin_rules())
        self._check_feed_symbols(feed)
        self._store, self._feed, self._commission = store, feed, commission
        engine_type = engine_type or _matching_engine_type()
        record = store.load()
        if record is None:
            self._engine = engine_type(self._rules, commission=commission,
                                       balances=DEFAULT_BALANCES if balances is None else balances)
            self._position = feed.initial_state()
        else:
            self._engine, self._position = self._restore(record, engine_type)
        self._market = MarketClock(clock, self._position.market_time_ms, speed)
        if record is None:
            self._deliver(feed.start_ms)  # the opening trade of every symbol
            self._market.reanchor(self.market_time_ms)
            self._save()

    # --- construction helpers ---------------------------------------------------------------

    def _check_feed_symbols(self, feed: PriceFeed) -> None:
        unknown = sorted(set(feed.symbols) - set(self._rules))
        if unknown:
            raise FeedError(f"the price feed has symbols without market rules: {', '.join(unknown)}")

    def _restore(self, record: AccountRecord, engine_type: Any) -> tuple[Any, FeedState]:
        if dict(record.feed_spec) != self._feed.spec():
            raise StateError(
                f"the paper account {self._store.path} was created with a different price feed "
                f"(seed or price files); run with the same feed, or move the account aside to "
                "start a new one")
        try:
            engine = engine_type.from_dict(record.engine, self._rules, commission=self._commission)
            position = FeedState.from_dict(record.feed_position)
            self._feed.check_state(position)
        except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError) as exc:
            raise self._store.corrupt(f"its contents are malformed ({exc})") from None
        return engine, position

    # --- market time ------------------------------------------------------------------------

    @property
    def market_time_ms(self) -> int:
        """Every feed trade at or before this market time has reached the matching engine."""
        return self._position.market_time_ms

    @property
    def feed(self) -> PriceFeed:
        return self._feed

    def advance(self, until_ms: int | None = None) -> list[OrderSnapshot]:
        """Feed the trades up to `until_ms` (default: market time now, per the speed factor)
        into the engine; return the snapshots of orders those trades changed, oldest first."""
        target = self._market.now_ms() if until_ms is None else until_ms
        before = self._position
        changes = self._deliver(target)
        if until_ms is not None:
            self._market.reanchor(self.market_time_ms)
        if self._position != before:  # polling a frozen market should not rewrite the file
            self._save()
        return changes

    def step(self) -> list[OrderSnapshot]:
        """Deliver the next feed trade(s), those sharing the earliest undelivered time."""
        return self.advance(self._feed.next_tick_ms(self._position))

    def set_price(self, symbol: str, price: Decimal) -> list[OrderSnapshot]:
        """A manual trade at the current market time (tests, the simulator's POST /sim/price).
        The feed's next trade for the symbol overrides it."""
        self._known(symbol)
        changes = self._engine.set_price(symbol, price, self.market_time_ms)
        self._save()
        return list(changes)

    def _deliver(self, until_ms: int) -> list[OrderSnapshot]:
        ticks, position = self._feed.advance(self._position, until_ms)
        changes: list[OrderSnapshot] = []
        for tick in ticks:
            changes.extend(self._engine.set_price(tick.symbol, tick.price, tick.time_ms))
        self._position = position
        return changes

    def _save(self) -> None:
        self._store.save(AccountRecord(self._engine.to_dict(), self._position.to_dict(),
                                       self._feed.spec()))

    def _known(self, symbol: str) -> MarketRules:
        if symbol not in self._rules:
            known = ", ".join(sorted(self._rules))
            raise CompileError(f"the paper exchange has no symbol {symbol}; it knows {known}")
        return self._rules[symbol]

    # --- Exchange protocol ------------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        return Capabilities(name="paper")

    def market_context(self, symbol: str) -> MarketContext:
        rules = self._known(symbol)
        return MarketContext(rules=rules, last_price=self.last_price(symbol),
                             commission=self._commission)

    def last_price(self, symbol: str) -> Decimal:
        self._known(symbol)
        price = self._engine.last_price(symbol)
        if price is None:
            raise ExchangeError(f"{symbol} has not traded yet on the paper market; it has no price "
                                "feed in this account")
        return price

    def submit(self, request: ExchangeRequest) -> OrderSnapshot | OrderListSnapshot:
        result = self._engine.submit(request, self.market_time_ms)
        self._save()
        return result

    def query_order(self, symbol: str, client_order_id: str, *,
                    order_id: int | None = None) -> OrderSnapshot:
        if order_id is not None:
            return self._engine.query_order(symbol, order_id=order_id)
        return self._engine.query_order(symbol, client_order_id=client_order_id)

    def order_trades(self, symbol: str, order_id: int) -> tuple[Fill, ...]:
        return tuple(self._engine.trades(symbol, order_id))

    def query_order_list(self, list_client_order_id: str) -> OrderListSnapshot:
        return self._engine.query_order_list(list_client_order_id=list_client_order_id)

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderSnapshot:
        result = self._engine.cancel_order(symbol, client_order_id=client_order_id,
                                           now_ms=self.market_time_ms)
        self._save()
        return result

    def cancel_order_list(self, symbol: str, list_client_order_id: str) -> OrderListSnapshot:
        result = self._engine.cancel_order_list(symbol, list_client_order_id=list_client_order_id,
                                                now_ms=self.market_time_ms)
        self._save()
        return result

    def open_orders(self, symbol: str) -> tuple[OrderSnapshot, ...]:
        return tuple(self._engine.open_orders(symbol))

    def balances(self) -> tuple[Balance, ...]:
        return tuple(self._engine.balances())

    # --- beyond the protocol: what the CLI and simulator show ----------------------------------

    def test_order(self, request: ExchangeRequest) -> None:
        """POST /api/v3/order/test: every check but funds; changes nothing."""
        self._engine.test_order(request, self.market_time_ms)

    def all_orders(self) -> tuple[OrderSnapshot, ...]:
        return tuple(self._engine.all_orders())

    def trades(self, symbol: str, order_id: int | None = None) -> tuple[Fill, ...]:
        return tuple(self._engine.trades(symbol, order_id))
