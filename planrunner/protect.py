"""Protection orders planrunner adds while a plan runs (pure): re-placed exits after drift or a
partial fill, repriced stops, and market exits, each as an Action with a deterministic client id.

Their source is what was really sent: the exit legs are read back from a step's persisted
request (an OCO, a single exit order, or the pending legs of an OTOCO/OPOCO list), so a repair
uses exactly the plan's prices for that slice, resolved from the real fill.

Naming: the follow-ups of plan step `exit-1` are `exit-1-r1`, `exit-1-r2` ... (client tag
`x1r1`, legs `x1r1tp` / `x1r1sl`) and `exit-1-close` (tag `x1c`); for `slice-2` the tags start
with `l2`. A state file alone is enough to rebuild these actions after a crash.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal

from planrunner.actions import Action, ActionKind, Leg, LegRole, RequestTemplate
from planrunner.exchanges.base import MarketContext
from planrunner.money import ZERO, fmt
from planrunner.orderspec import check_leg, oco_request, order_request, ordered, summary
from planrunner.plan.model import Side
from planrunner.sizing import floor_qty, stop_trigger_price
from planrunner.state import Step

MAX_REPAIRS = 3  # re-placements per slice before planrunner exits at market instead
REPRICE_GAP = Decimal("0.001")  # a repriced stop sits 0.1% beyond the last price
_REPAIR_RE = re.compile(r"^(?P<base>(?:exit|slice)-\d+)(?:-r(?P<n>\d+)|-(?P<close>close))?$")
_TAGS = {"exit": "x", "slice": "l"}
# request prefixes that hold exit legs: OCO, single order, OTO(CO)/OPO(CO) pending legs
_EXIT_PREFIXES = ("above", "below", "pending", "pendingAbove", "pendingBelow")
_STOP_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT")


def chain_base(step_id: str) -> str | None:
    """`exit-1-r2` -> `exit-1`; None for steps that carry no exits of their own."""
    match = _REPAIR_RE.match(step_id)
    return match.group("base") if match else None


def is_follow_up(step_id: str) -> bool:
    match = _REPAIR_RE.match(step_id)
    return bool(match and (match.group("n") or match.group("close")))


def repair_number(step_id: str) -> int:
    match = _REPAIR_RE.match(step_id)
    return int(match.group("n")) if match and match.group("n") else 0


def slice_tag(base: str) -> str:
    kind, number = base.split("-", 1)
    return f"{_TAGS[kind]}{number}"


def repair_id(base: str, n: int) -> str:
    return f"{base}-r{n}"


def close_id(base: str) -> str:
    return f"{base}-close"


# ---- reading exit legs back from a persisted request --------------------------------------------

def _dec(params: dict[str, str], key: str) -> Decimal | None:
    return Decimal(params[key]) if key in params else None


def _role(order_type: str) -> LegRole:
    return LegRole.STOP if order_type in _STOP_TYPES else LegRole.TAKE_PROFIT


def _leg_at(params: dict[str, str], prefix: str, side: str) -> Leg:
    key = (lambda name: f"{prefix}{name}") if prefix else (lambda name: name[0].lower() + name[1:])
    order_type = params[key("Type")]
    delta = params.get(key("TrailingDelta"))
    return Leg(_role(order_type), "", params.get(key("Side"), side), order_type,
               price=_dec(params, key("Price")), stop_price=_dec(params, key("StopPrice")),
               trailing_delta=int(delta) if delta else None,
               time_in_force=params.get(key("TimeInForce")))


def exit_legs(step: Step) -> tuple[Leg, ...]:
    """The take-profit / stop legs a step's persisted request placed (quantity left out)."""
    params = dict(step.request)
    side = params.get("pendingSide") or params.get("side", "")
    if "type" in params:
        return (_leg_at(params, "", side),)
    return tuple(_leg_at(params, prefix, side) for prefix in _EXIT_PREFIXES
                 if f"{prefix}Type" in params)


def request_quantity(step: Step) -> Decimal | None:
    """The exit quantity the step's request gave (None: sized by the exchange, OPO/OPOCO)."""
    params = dict(step.request)
    raw = params.get("pendingQuantity") if "workingType" in params else params.get("quantity")
    return Decimal(raw) if raw else None


# ---- building protection actions ----------------------------------------------------------------

def _with_ids(legs: tuple[Leg, ...], cid: str, qty: Decimal) -> tuple[Leg, ...]:
    suffix = {LegRole.TAKE_PROFIT: "tp", LegRole.STOP: "sl"}
    return tuple(dataclasses.replace(leg, client_order_id=f"{cid}{suffix[leg.role]}",
                                     quantity=qty, pending=False) for leg in legs)


def protection_action(step_id: str, cid: str, symbol: str, legs: tuple[Leg, ...],
                      qty: Decimal) -> Action:
    """An OCO (take-profit + stop) or a single exit order for `qty`, with new client ids."""
    legs = _with_ids(legs, cid, qty)
    tp = next((leg for leg in legs if leg.role is LegRole.TAKE_PROFIT), None)
    stop = next((leg for leg in legs if leg.role is LegRole.STOP), None)
    legs = ordered(tp, stop, legs[0].side)
    if len(legs) == 2:
        return Action(step_id, ActionKind.PLACE_ORDER_LIST, summary(f"{step_id} (OCO)", legs),
                      request=oco_request(symbol, cid, legs[0], legs[1]), client_id=cid,
                      legs=legs)
    return Action(step_id, ActionKind.PLACE_ORDER, summary(step_id, legs),
                  request=order_request(symbol, legs[0]), client_id=legs[0].client_order_id,
                  legs=legs)


def market_exit_action(step_id: str, cid: str, symbol: str, side: str, qty: Decimal) -> Action:
    leg = Leg(LegRole.CLOSE, cid, side, "MARKET", quantity=qty)
    return Action(step_id, ActionKind.PLACE_ORDER, f"{step_id}: exit at market, {side} {fmt(qty)}",
                  request=order_request(symbol, leg), client_id=cid, legs=(leg,))


def rebuilt_action(step: Step) -> Action:
    """The Action of a follow-up step, from what the state persisted for it."""
    method, path = (step.endpoint or "POST /api/v3/order").split(" ", 1)
    legs = tuple(Leg(LegRole(leg.role), leg.client_order_id, "", "") for leg in step.legs)
    return Action(step.id, ActionKind(step.kind), f"{step.id} (added by planrunner)",
                  request=RequestTemplate(method, path, step.request), client_id=step.client_id,
                  legs=legs)


# ---- sizes and prices ---------------------------------------------------------------------------

def tradable(qty: Decimal, market: MarketContext, *, at_market: bool) -> Decimal:
    """`qty` floored to the step, or ZERO when that is under the symbol's minimum order."""
    rules = market.rules
    step = rules.effective_market_step if at_market else rules.step_size
    low = rules.effective_market_min_qty if at_market else rules.min_qty
    floored = floor_qty(qty, step)
    check_min = rules.min_notional > 0 and (rules.apply_min_to_market or not at_market)
    if floored <= ZERO or floored < low or (check_min and
                                            floored * market.last_price < rules.min_notional):
        return ZERO
    return floored


def problems(legs: tuple[Leg, ...], market: MarketContext) -> list[str]:
    return [p for leg in legs for p in check_leg(leg, leg.role.value.replace("_", "-"), market,
                                                 market.last_price)]


def repriced(legs: tuple[Leg, ...], market: MarketContext) -> tuple[Leg, ...] | None:
    """The stop moved to just beyond the last price, never past the plan's stop limit; None
    when that bound cannot hold (or the stop is a market or trailing stop, which has none)."""
    stop = next((leg for leg in legs if leg.role is LegRole.STOP), None)
    if stop is None or stop.type != "STOP_LOSS_LIMIT" or stop.trailing_delta is not None:
        return None
    limit, last, sell = stop.price, market.last_price, stop.side == "SELL"
    assert isinstance(limit, Decimal)
    wanted = last * (1 - REPRICE_GAP) if sell else last * (1 + REPRICE_GAP)
    trigger = stop_trigger_price(wanted, Side.SELL if sell else Side.BUY,
                                 market.rules.tick_size)
    beyond = trigger < last if sell else trigger > last
    bounded = trigger >= limit if sell else trigger <= limit
    if not (beyond and bounded):
        return None
    moved = tuple(dataclasses.replace(leg, stop_price=trigger) if leg is stop else leg
                  for leg in legs)
    return moved if not problems(moved, market) else None
