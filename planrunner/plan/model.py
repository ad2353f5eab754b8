"""The typed, frozen form of a valid plan (TradePlan) and its value types.

The dataclasses are the contract between the plan language and the compiler. The builder that
turns a validated raw mapping into a TradePlan lives at the bottom of this module.
"""

from __future__ import annotations

import re as _re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from planrunner.money import HUNDRED, to_decimal


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


class PartialFill(StrEnum):
    """entry.on_partial_fill: what happens to an entry that filled only partly."""

    PROTECT_FILLED = "protect_filled"  # rest keeps working; never leave the filled part bare
    CANCEL_REMAINDER = "cancel_remainder"  # cancel the rest at once, protect the filled part
    WAIT = "wait"  # wait for the full fill; protect the filled part only if the entry ends


class OnFailure(StrEnum):
    """stop.on_failure: what happens when exits cannot be placed (or vanished)."""

    EXIT_MARKET = "exit_market"  # close the held quantity at market at once
    REPRICE = "reprice"  # stop just beyond the market (bounded by the stop limit), once


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
    on_partial_fill: PartialFill = PartialFill.PROTECT_FILLED


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
    on_failure: OnFailure = OnFailure.EXIT_MARKET


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


# -- builder ---------------------------------------------------------------------------------
# Turns a mapping that passed the JSON Schema into a TradePlan. Values are trusted to have the
# schema's shape; numeric range checks that need context live in plan/rules.py.

_RELATIVE = _re.compile(r"^([+-])(\d+(?:\.\d+)?)(%?)$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_price(value: object) -> PriceExpr:
    """68500 / "68500" -> absolute; "+3%" -> percent; "-300" -> offset."""
    if isinstance(value, str):
        match = _RELATIVE.match(value.strip())
        if match:
            sign, digits, percent = match.groups()
            amount = Decimal(digits) if sign == "+" else -Decimal(digits)
            return PriceExpr(PriceKind.PERCENT if percent else PriceKind.OFFSET, amount)
    return PriceExpr(PriceKind.ABSOLUTE, to_decimal(value))


def parse_percent(value: str) -> Decimal:
    """"50%" -> Decimal("50")."""
    return to_decimal(value.strip().removesuffix("%"))


def parse_duration(value: str) -> int:
    """"12h" -> 43200 seconds."""
    return int(value[:-1]) * _DURATION_UNITS[value[-1]]


def _optional(mapping: dict, key: str, parse):
    value = mapping.get(key)
    return None if value is None else parse(value)


def _build_entry(raw: dict) -> Entry:
    return Entry(
        type=EntryType(raw["type"]),
        price=_optional(raw, "price", parse_price),
        trigger=_optional(raw, "trigger", parse_price),
        limit=_optional(raw, "limit", parse_price),
        time_in_force=raw.get("time_in_force", "GTC"),
        expire_after_s=_optional(raw, "expire_after", parse_duration),
        cost_basis=_optional(raw, "cost_basis", to_decimal),
        on_partial_fill=PartialFill(raw.get("on_partial_fill", "protect_filled")),
    )


def _build_size(raw: dict) -> Size:
    for kind in SizeKind:
        if raw.get(kind.value) is not None:
            return Size(kind, to_decimal(raw[kind.value]))
    raise ValueError("a plan needs one of quantity, spend, risk")


def _build_stop(raw: dict) -> Stop:
    return Stop(
        trigger=parse_price(raw["trigger"]),
        limit=_optional(raw, "limit", parse_price),
        type=StopType(raw.get("type", "limit")),
        trailing=_optional(raw, "trailing", parse_percent),
        on_failure=OnFailure(raw.get("on_failure", "exit_market")),
    )


def build_plan(raw: dict) -> TradePlan:
    """TradePlan from a schema-valid mapping (see plan/schema.py)."""
    targets = tuple(TakeProfit(parse_price(t["price"]), parse_percent(t["portion"]))
                    for t in raw.get("take_profit") or ())
    stop = raw.get("stop")
    return TradePlan(
        version=int(raw["version"]),
        name=raw["name"],
        exchange=raw.get("exchange", "paper"),
        symbol=raw["symbol"],
        side=Side(raw["side"]),
        entry=_build_entry(raw["entry"]),
        size=_build_size(raw),
        take_profits=targets,
        stop=None if stop is None else _build_stop(stop),
    )
