"""The simulator's market: one paper MatchingEngine fed by a PriceFeed on a market clock, the
trade history that /klines and /avgPrice read, and Binance's cancel rename of client order ids.

Market time starts at the feed's opening trade. With speed 0 it stands still and prices move only
through `set_price`; with speed > 0 every `catch_up` (one per request) advances market time by the
wall time elapsed since the previous one times the speed, and feeds the ticks up to it to the
engine. The engine is not thread safe: callers hold `lock` around every use.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from planrunner.clock import Clock
from planrunner.exchanges.base import (
    Commission,
    MarketRules,
    OrderSnapshot,
    OrderStatus,
)
from planrunner.exchanges.paper.feed import FeedState, PriceFeed
from planrunner.exchanges.paper.matching import MatchingEngine
from planrunner.money import floor_to

_HISTORY_LIMIT = 200_000  # trades kept per symbol for klines / avgPrice


@dataclass(frozen=True, slots=True)
class Trade:
    time_ms: int
    price: Decimal
    id: int = 0  # per symbol, from 0, in the order the market saw the trades


@dataclass(frozen=True, slots=True)
class PartialFill:
    """The next fill of a resting order on `symbol` (with this client id, if given) trades only
    `fraction` of what is left, rounded down to the step size; used up once it happens."""

    symbol: str
    fraction: Decimal
    client_order_id: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"symbol": self.symbol, "fraction": str(self.fraction),
                "clientOrderId": self.client_order_id}


class SimMarket:
    """The engine, its feed position and the trade tape. Mutable; guard with `lock`."""

    def __init__(self, rules: Mapping[str, MarketRules], feed: PriceFeed, clock: Clock,
                 speed: Decimal, balances: Mapping[str, Decimal],
                 commission: Commission | None = None):
        self.lock = threading.RLock()
        self.rules = dict(rules)
        self.commission = commission or Commission()
        self.engine = MatchingEngine(self.rules, commission=self.commission, balances=balances)
        self._feed, self._clock, self._speed = feed, clock, speed
        self._position: FeedState = feed.initial_state()
        self._tape: dict[str, list[Trade]] = {}
        self._trade_ids: dict[str, int] = {}
        self._renamed: dict[int, str] = {}  # orderId -> the client id a cancel gave it
        self._cancel_ids = 0
        self.partial_fills: list[PartialFill] = []
        self._deliver(feed.start_ms)
        self._wall_anchor = clock.now_ms()

    @property
    def market_time_ms(self) -> int:
        return self._position.market_time_ms

    def catch_up(self) -> list[OrderSnapshot]:
        """Advance market time by wall elapsed x speed since the last call; match the ticks."""
        if self._speed <= 0:
            return []
        now = self._clock.now_ms()
        elapsed = max(0, now - self._wall_anchor)
        step = int(elapsed * self._speed)
        if step <= 0:
            return []
        self._wall_anchor = now
        return self._deliver(self.market_time_ms + step)

    def set_price(self, symbol: str, price: Decimal) -> list[OrderSnapshot]:
        """A trade at `price` now (POST /sim/price): matching runs at once."""
        return self._trade(symbol, price, self.market_time_ms)

    def _deliver(self, until_ms: int) -> list[OrderSnapshot]:
        ticks, self._position = self._feed.advance(self._position, until_ms)
        changes: list[OrderSnapshot] = []
        for tick in ticks:
            if tick.symbol in self.rules:
                changes.extend(self._trade(tick.symbol, tick.price, tick.time_ms))
        return changes

    def _trade(self, symbol: str, price: Decimal, time_ms: int) -> list[OrderSnapshot]:
        capped = self._arm_partial_fills(symbol)
        try:
            changes = list(self.engine.set_price(symbol, price, time_ms))
        finally:
            self.engine.clear_fill_caps()
        self._record(symbol, time_ms, price)
        for order in changes:
            rule = capped.get(order.order_id)
            if rule in self.partial_fills and order.status is OrderStatus.PARTIALLY_FILLED:
                self.partial_fills.remove(rule)
        return changes

    def _arm_partial_fills(self, symbol: str) -> dict[int, PartialFill]:
        capped: dict[int, PartialFill] = {}
        step = self.rules[symbol].step_size
        for rule in (r for r in self.partial_fills if r.symbol == symbol):
            for order in self.engine.open_orders(symbol):
                if rule.client_order_id not in (None, order.client_order_id, self.client_id(order)):
                    continue
                qty = floor_to((order.orig_qty - order.executed_qty) * rule.fraction, step)
                if qty > 0 and order.order_id not in capped:
                    self.engine.cap_next_fill(order.order_id, qty)
                    capped[order.order_id] = rule
        return capped

    def _record(self, symbol: str, time_ms: int, price: Decimal) -> None:
        tape = self._tape.setdefault(symbol, [])
        trade_id = self._trade_ids.get(symbol, 0)
        self._trade_ids[symbol] = trade_id + 1
        tape.append(Trade(time_ms, price, trade_id))
        if len(tape) > _HISTORY_LIMIT:
            del tape[: len(tape) - _HISTORY_LIMIT]

    def tape(self, symbol: str) -> tuple[Trade, ...]:
        return tuple(self._tape.get(symbol, ()))

    def trades_seen(self, symbol: str) -> int:
        """How many trades the market has seen on `symbol` (never shrinks, unlike the tape)."""
        return self._trade_ids.get(symbol, 0)

    # --- client ids: Binance renames an order when it is canceled ---------------------------

    def rename(self, order_id: int, client_id: str) -> None:
        self._renamed[order_id] = client_id

    def client_id(self, order: OrderSnapshot) -> str:
        """The order's current clientOrderId (the cancel's id once canceled)."""
        return self._renamed.get(order.order_id, order.client_order_id)

    def next_cancel_id(self) -> str:
        self._cancel_ids += 1
        return f"simcancel{self._cancel_ids:013d}"  # 22 characters, like Binance's own ids

    def renamed_order_id(self, client_id: str) -> int | None:
        for order_id, name in self._renamed.items():
            if name == client_id:
                return order_id
        return None
