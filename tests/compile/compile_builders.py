"""Builders for the compiler tests: TradePlan objects built directly (no loader), paper markets."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from planrunner.actions import ActionPlan
from planrunner.compile import compile_plan
from planrunner.exchanges.base import Capabilities, MarketContext
from planrunner.exchanges.rules import builtin_rules
from planrunner.plan.model import (Entry, EntryType, PriceExpr, PriceKind, Side, Size, SizeKind, Stop,
                                   StopType, TakeProfit, TradePlan)

D = Decimal
NAMESPACE = "ab12cd"


def px(text: str) -> PriceExpr:
    """'7000' absolute, '+150' / '-300' offset, '+3%' / '-2.5%' percent, as the plan language."""
    if text.endswith("%"):
        return PriceExpr(PriceKind.PERCENT, D(text[:-1]))
    if text[0] in "+-":
        return PriceExpr(PriceKind.OFFSET, D(text))
    return PriceExpr(PriceKind.ABSOLUTE, D(text))


def market(symbol: str = "BTCUSDT", last: str = "7195.24", **rule_changes) -> MarketContext:
    rules = dataclasses.replace(builtin_rules()[symbol], **rule_changes)
    return MarketContext(rules=rules, last_price=D(last))


def limit_entry(price: str, **kw) -> Entry:
    return Entry(EntryType.LIMIT, price=px(price), **kw)


def stop_limit_entry(trigger: str, limit: str, **kw) -> Entry:
    return Entry(EntryType.STOP_LIMIT, trigger=px(trigger), limit=px(limit), **kw)


MARKET_ENTRY = Entry(EntryType.MARKET)


def none_entry(cost_basis: str) -> Entry:
    return Entry(EntryType.NONE, cost_basis=D(cost_basis))


def tps(*pairs: tuple[str, str]) -> tuple[TakeProfit, ...]:
    return tuple(TakeProfit(px(price), D(portion)) for price, portion in pairs)


def stop(trigger: str, limit: str | None = "-0.3%", *, kind: StopType = StopType.LIMIT,
         trailing: str | None = None) -> Stop:
    return Stop(px(trigger), None if limit is None else px(limit), kind,
                None if trailing is None else D(trailing))


def plan(*, side: Side = Side.BUY, entry: Entry | None = None, size: Size | None = None,
         take_profits: tuple[TakeProfit, ...] | None = None, stop_: Stop | None | str = "default",
         symbol: str = "BTCUSDT", name: str = "btc-breakout") -> TradePlan:
    """A long BTCUSDT limit plan by default: 0.01 BTC @ 7100, TPs +3% / +5%, stop -2% / -0.3%."""
    buy = side is Side.BUY
    if take_profits is None:
        take_profits = tps(("+3%", "50"), ("+5%", "50")) if buy else tps(("-3%", "50"), ("-5%", "50"))
    if stop_ == "default":
        stop_ = stop("-2%", "-0.3%") if buy else stop("+2%", "+0.3%")
    return TradePlan(1, name, "paper", symbol, side, entry or limit_entry("7100" if buy else "7300"),
                     size or Size(SizeKind.QUANTITY, D("0.01")), take_profits, stop_)


def compiled(p: TradePlan, m: MarketContext | None = None, caps: Capabilities | None = None) -> ActionPlan:
    return compile_plan(p, m or market(), caps or Capabilities(name="paper"), NAMESPACE)
