"""Sizing and rounding policy: how plan prices and sizes become tick/step-grid values, and the
recipes (Deferred specs) that turn an entry fill into exit prices and quantities.

Every rounding direction lives here, so the "never worse than asked" rule is stated once:
quantities go down to the step; entry limits never pay more than asked; take-profits never exit
for less than asked; stop triggers move toward safety; stop limits move away from their trigger.
"""

from __future__ import annotations

from decimal import Decimal

from planrunner.actions import Deferred, RiskSummary
from planrunner.exchanges.base import MarketContext, MarketRules
from planrunner.money import HUNDRED, ZERO, Rounding, fmt, quantize_to, to_decimal
from planrunner.plan.model import EntryType, PriceExpr, PriceKind, Side, SizeKind, Stop, StopType, TradePlan

# Spec keys of the Deferred recipes; the values are plain strings so an ActionPlan stays pure data.
WHAT_QTY = "qty"
WHAT_TP = "take_profit"
WHAT_TRIGGER = "stop_trigger"
WHAT_STOP_LIMIT = "stop_limit"


def _up_if(condition: bool) -> Rounding:
    return Rounding.UP if condition else Rounding.DOWN


def entry_limit_price(value: Decimal, side: Side, tick: Decimal) -> Decimal:
    """Buy DOWN, sell UP: the entry never pays more (or receives less) than asked."""
    return quantize_to(value, tick, _up_if(side is Side.SELL))


def take_profit_price(value: Decimal, exit_side: Side, tick: Decimal) -> Decimal:
    """Sell UP, buy DOWN: a take-profit never exits for less than asked."""
    return quantize_to(value, tick, _up_if(exit_side is Side.SELL))


def stop_trigger_price(value: Decimal, exit_side: Side, tick: Decimal) -> Decimal:
    """Toward safety: a SELL stop fires a little earlier (UP), a BUY stop too (DOWN)."""
    return quantize_to(value, tick, _up_if(exit_side is Side.SELL))


def stop_limit_price(value: Decimal, exit_side: Side, tick: Decimal) -> Decimal:
    """Away from the trigger (SELL DOWN, BUY UP), so the triggered limit still reaches the book."""
    return quantize_to(value, tick, _up_if(exit_side is Side.BUY))


def floor_qty(value: Decimal, step: Decimal) -> Decimal:
    return quantize_to(value, step, Rounding.DOWN)


def split_quantity(total: Decimal, portions: tuple[Decimal, ...], step: Decimal) -> tuple[Decimal, ...]:
    """qty_i = floor(total * portion_i, step) for all but the last; the last takes the rest."""
    if not portions:
        return (floor_qty(total, step),)
    head = [floor_qty(total * p / HUNDRED, step) for p in portions[:-1]]
    last = floor_qty(total - sum(head, ZERO), step)
    return tuple(head) + (last,)


def trailing_bips(percent: Decimal) -> Decimal:
    """Binance trailingDelta is in BIPS: 1% = 100. May be fractional; the caller checks."""
    return percent * HUNDRED


def encode_expr(expr: PriceExpr) -> str:
    return f"{expr.kind.value}:{fmt(expr.value)}"


def decode_expr(text: str) -> PriceExpr:
    kind, _, value = text.partition(":")
    return PriceExpr(PriceKind(kind), to_decimal(value))


def stop_prices(stop: Stop, reference: Decimal, exit_side: Side, tick: Decimal
                ) -> tuple[Decimal, Decimal | None]:
    """(trigger, limit) on the tick grid; the limit is relative to the rounded trigger it is sent with."""
    trigger = stop_trigger_price(stop.trigger.resolve(reference), exit_side, tick)
    if stop.limit is None:
        return trigger, None
    return trigger, stop_limit_price(stop.limit.resolve(trigger), exit_side, tick)


def stop_exec_price(stop: Stop, reference: Decimal, exit_side: Side, tick: Decimal) -> Decimal:
    """The worst price a stop sells (buys) at: its limit, or its trigger for a market stop."""
    trigger, limit = stop_prices(stop, reference, exit_side, tick)
    return limit if limit is not None and stop.type is not StopType.MARKET else trigger


# ---- entry reference and size ------------------------------------------------------------------

def entry_reference(plan: TradePlan, market: MarketContext, problems: list[str]
                    ) -> tuple[Decimal | None, Decimal | None]:
    """(price the exits are relative to, stop_limit entry trigger); None while unknown (market)."""
    entry, tick, last = plan.entry, market.rules.tick_size, market.last_price
    if entry.type is EntryType.LIMIT and entry.price is not None:
        return entry_limit_price(entry.price.resolve(last), plan.side, tick), None
    if entry.type is EntryType.STOP_LIMIT and entry.trigger is not None:
        trigger = entry_limit_price(entry.trigger.resolve(last), plan.side, tick)
        limit_expr = entry.limit or entry.trigger
        return entry_limit_price(limit_expr.resolve(trigger), plan.side, tick), trigger
    if entry.type is EntryType.MARKET:
        return None, None
    if entry.type is EntryType.NONE and entry.cost_basis is not None:
        return entry.cost_basis, None
    what = "entry.cost_basis (the average price paid)" if entry.type is EntryType.NONE else "its price"
    problems.append(f"entry {entry.type.value} is missing {what}: add it")
    return last, None


def total_quantity(plan: TradePlan, market: MarketContext, ref: Decimal | None,
                   problems: list[str], warnings: list[str]) -> Decimal:
    """The entry size in base units on the step grid (an estimate for market spend and risk)."""
    size, rules = plan.size, market.rules
    est_ref = ref if ref is not None else market.last_price
    is_market = plan.entry.type is EntryType.MARKET
    step = rules.effective_market_step if is_market else rules.step_size
    if size.kind is SizeKind.QUANTITY:
        return floor_qty(size.amount, step)
    if size.kind is SizeKind.SPEND:
        return floor_qty(size.amount / est_ref, step)
    stop_px = None if plan.stop is None else stop_exec_price(plan.stop, est_ref, plan.side.exit_side,
                                                              rules.tick_size)
    if stop_px is None or stop_px == est_ref:
        problems.append("risk sizing needs a stop whose price differs from the entry: add a stop "
                        "or use quantity")
        return ZERO
    if is_market:
        warnings.append(f"risk sizing is estimated at the last price {fmt(est_ref)}: the real "
                        f"loss at the stop depends on the market fill")
    return floor_qty(size.amount / abs(est_ref - stop_px), step)


# ---- Deferred recipes --------------------------------------------------------------------------

def deferred_qty(portions: tuple[Decimal, ...], index: int, estimate: Decimal) -> Deferred:
    spec = (("what", WHAT_QTY), ("portions", ",".join(fmt(p) for p in portions)),
            ("slice", str(index)))
    return Deferred("quantity", estimate, spec)


def deferred_take_profit(expr: PriceExpr, exit_side: Side, estimate: Decimal) -> Deferred:
    spec = (("what", WHAT_TP), ("price", encode_expr(expr)), ("side", exit_side.value))
    return Deferred("price", estimate, spec)


def deferred_stop(what: str, stop: Stop, exit_side: Side, estimate: Decimal) -> Deferred:
    spec = [("what", what), ("trigger", encode_expr(stop.trigger)), ("side", exit_side.value)]
    if stop.limit is not None:
        spec.append(("limit", encode_expr(stop.limit)))
    name = "stopPrice" if what == WHAT_TRIGGER else "price"
    return Deferred(name, estimate, tuple(spec))


def resolve_deferred(value: Deferred, avg_price: Decimal, net_qty: Decimal,
                     rules: MarketRules) -> Decimal:
    """The concrete value of a recipe once the entry filled at avg_price for net_qty."""
    spec = dict(value.spec)
    what = spec.get("what")
    if what == WHAT_QTY:
        portions = tuple(to_decimal(p) for p in spec["portions"].split(",") if p)
        return split_quantity(net_qty, portions, rules.step_size)[int(spec["slice"]) - 1]
    side = Side(spec["side"])
    if what == WHAT_TP:
        return take_profit_price(decode_expr(spec["price"]).resolve(avg_price), side, rules.tick_size)
    limit = decode_expr(spec["limit"]) if "limit" in spec else None
    stop = Stop(trigger=decode_expr(spec["trigger"]), limit=limit)
    trigger, limit_price = stop_prices(stop, avg_price, side, rules.tick_size)
    if what == WHAT_TRIGGER:
        return trigger
    if what == WHAT_STOP_LIMIT and limit_price is not None:
        return limit_price
    raise ValueError(f"unknown after-fill recipe {value.spec!r}")


# ---- risk --------------------------------------------------------------------------------------

def _money(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places))


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    return _money(part / whole * HUNDRED, 2) if whole > ZERO else None


def risk_summary(plan: TradePlan, market: MarketContext, ref: Decimal | None,
                 qtys: tuple[Decimal, ...]) -> RiskSummary:
    """Worst loss (every stop fills at its limit, or its trigger for a market stop) and best gain
    (every take-profit fills), each net of estimated taker fees on entry and exit."""
    rules, fee = market.rules, market.commission.taker
    est = ref if ref is not None else market.last_price
    exit_side, places = plan.side.exit_side, rules.quote_asset_precision
    entry_fee = ZERO if plan.entry.type is EntryType.NONE else fee
    cost = sum((q * est for q in qtys), ZERO)
    loss = gain = None
    if plan.stop is not None:
        stop_px = stop_exec_price(plan.stop, est, exit_side, rules.tick_size)
        loss = sum((q * (abs(est - stop_px) + est * entry_fee + stop_px * fee) for q in qtys), ZERO)
    if plan.take_profits:
        gain = ZERO
        for q, tp in zip(qtys, plan.take_profits, strict=True):
            tp_px = take_profit_price(tp.price.resolve(est), exit_side, rules.tick_size)
            gain += q * (abs(tp_px - est) - est * entry_fee - tp_px * fee)
    ratio = _money(gain / loss, 2) if gain is not None and loss else None
    estimated = ref is None
    return RiskSummary(rules.quote_asset,
                       _money(loss, places) if loss is not None else None,
                       _pct(loss, cost) if loss is not None else None,
                       _money(gain, places) if gain is not None else None,
                       _pct(gain, cost) if gain is not None else None,
                       ratio, estimated)
