"""Pure position arithmetic over a State: what is held because of the plan, at what average
price, and its unrealised P&L at a given price. Decimal only."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from planrunner.exchanges.base import MarketContext
from planrunner.money import ZERO
from planrunner.state import State


@dataclass(frozen=True, slots=True)
class Position:
    entered: Decimal  # base quantity bought (buy plan) or sold (sell plan) by the entry
    exited: Decimal  # base quantity the exits sold (buy plan) or bought back (sell plan)
    base_fees: Decimal  # commission paid in the base asset on entry fills (buy plan)
    avg_entry: Decimal | None

    @property
    def open_qty(self) -> Decimal:
        """Base still held (buy plan) or still to buy back (sell plan)."""
        return max(self.entered - self.base_fees - self.exited, ZERO)


def position(state: State, entry_side: str, market: MarketContext) -> Position:
    base = market.rules.base_asset
    entries = [o for o in state.orders if o.side == entry_side and o.executed_qty > 0]
    exits = [o for o in state.orders if o.side != entry_side and o.executed_qty > 0]
    entered = sum((o.executed_qty for o in entries), ZERO)
    quote = sum((o.cumulative_quote_qty for o in entries), ZERO)
    entry_ids = {o.client_order_id for o in entries}
    fees = sum((f.commission for f in state.fills
                if f.client_order_id in entry_ids and f.commission_asset == base
                and entry_side == "BUY"), ZERO)
    return Position(entered=entered, exited=sum((o.executed_qty for o in exits), ZERO),
                    base_fees=fees, avg_entry=quote / entered if entered > 0 else None)


def unrealised_pnl(pos: Position, entry_side: str, last_price: Decimal) -> Decimal | None:
    if pos.avg_entry is None:
        return None
    direction = 1 if entry_side == "BUY" else -1
    return (last_price - pos.avg_entry) * pos.open_qty * direction
