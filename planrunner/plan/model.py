"""The typed, frozen form of a valid plan (TradePlan) and its value types.

The dataclasses are the contract between the plan language and the compiler. The builder that
turns a validated raw mapping into a TradePlan lives at the bottom of this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from planrunner.money import HUNDRED


class Side(StrEnum):
    BUY = "buy"  # enter long; exits sell
    SELL = "sell"  # sell a holding first; exits buy back

    @property
    def exit_side(self) -> "Side":
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def wire(self) -> str:
        return self.value.upper()


class EntryType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_LIMIT = "stop_limit"
    NONE = "none"


class SizeKind(StrEnum):
    QUANTITY = "quantity"  # base asset
    SPEND = "spend"  # quote asset
    RISK = "risk"  # quote lost if the stop hits


class StopType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class PriceKind(StrEnum):
    ABSOLUTE = "absolute"  # 68500
    OFFSET = "offset"  # "+1500" / "-300": added to the reference
    PERCENT = "percent"  # "+3%" / "-2.5%": percent of the reference


@dataclass(frozen=True, slots=True)
class PriceExpr:
    """A price as written: absolute, or a signed offset / percent of a reference price."""

    kind: PriceKind
    value: Decimal  # absolute price, signed offset, or signed percent

    def resolve(self, reference: Decimal) -> Decimal:
        if self.kind is PriceKind.ABSOLUTE:
            return self.value
        if self.kind is PriceKind.OFFSET:
            return reference + self.value
        return reference * (HUNDRED + self.value) / HUNDRED

    @property
    def is_relative(self) -> bool:
        return self.kind is not PriceKind.ABSOLUTE

    def __str__(self) -> str:
        from planrunner.money import fmt
        if self.kind is PriceKind.ABSOLUTE:
            return fmt(self.value)
        sign = "+" if self.value >= 0 else "-"
        suffix = "%" if self.kind is PriceKind.PERCENT else ""
        return f"{sign}{fmt(abs(self.value))}{suffix}"


@dataclass(frozen=True, slots=True)
class Entry:
    type: EntryType
    price: PriceExpr | None = None  # limit: the limit price (absolute)
    trigger: PriceExpr | None = None  # stop_limit: the trigger (absolute)
    limit: PriceExpr | None = None  # stop_limit: limit price, absolute or relative to trigger
    time_in_force: str = "GTC"  # GTC | IOC | FOK
    expire_after_s: int | None = None  # cancel the unfilled part after this many seconds
    cost_basis: Decimal | None = None  # none: average cost of the holding


@dataclass(frozen=True, slots=True)
class Size:
    kind: SizeKind
    amount: Decimal


@dataclass(frozen=True, slots=True)
class TakeProfit:
    price: PriceExpr
    portion: Decimal  # percent, in (0, 100]


@dataclass(frozen=True, slots=True)
class Stop:
    trigger: PriceExpr
    limit: PriceExpr | None = None  # relative to trigger (or absolute); None with type market
    type: StopType = StopType.LIMIT
    trailing: Decimal | None = None  # percent, e.g. Decimal("1") for "1%"


@dataclass(frozen=True, slots=True)
class TradePlan:
    version: int
    name: str
    exchange: str  # paper | binance | binance-testnet
    symbol: str
    side: Side
    entry: Entry
    size: Size
    take_profits: tuple[TakeProfit, ...] = ()
    stop: Stop | None = None
