"""The compiler: a valid TradePlan plus the symbol's market rules -> an ActionPlan (pure).

It picks the strategy (exchange-armed order lists where the symbol allows them, else entry, wait,
then exits), sizes and rounds every leg, checks every leg against the filters, and reports every
problem at once. `resolve_action` turns the after-fill placeholders into concrete values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from planrunner.actions import Action, ActionKind, ActionPlan, Deferred, Leg, LegRole, Strategy
from planrunner.errors import CompileError
from planrunner.exchanges.base import Capabilities, MarketContext, MarketRules
from planrunner.money import ZERO, fmt
from planrunner.orderspec import (cancel_request, check_leg, count_problems, label, oco_request,
                                  order_request, ordered, substitute_leg, substitute_request, summary,
                                  triggered_request)
from planrunner.plan.model import EntryType, PartialFill, SizeKind, Side, StopType, TradePlan
from planrunner.sizing import (WHAT_STOP_LIMIT, WHAT_TRIGGER, deferred_qty, deferred_stop,
                               deferred_take_profit, entry_reference, floor_qty, resolve_deferred,
                               risk_summary, split_quantity, stop_prices, take_profit_price,
                               total_quantity, trailing_bips)

CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
HUNDRED = Decimal(100)
TIGHT_GAP = Decimal("0.001")  # a stop limit this close to its trigger may be skipped in a fast market
LIST_STRATEGIES = frozenset({Strategy.OPOCO, Strategy.OTOCO, Strategy.OPO, Strategy.OTO})


@dataclass(frozen=True, slots=True)
class EntryFill:
    """What the entry actually did; net_qty is executed minus commission paid in the base asset."""

    executed_qty: Decimal
    avg_price: Decimal
    net_qty: Decimal
    quote_qty: Decimal


def client_order_id(plan_name: str, namespace: str, tag: str) -> str:
    """Deterministic id `name-namespace-tag` within Binance's [A-Za-z0-9_-]{1,36}."""
    clean = [re.sub(r"[^A-Za-z0-9_-]", "-", part) for part in (plan_name[:20], namespace[:6], tag)]
    result = "-".join(part for part in clean if part)
    if not CLIENT_ID_RE.match(result):
        raise ValueError(f"client order id {result!r} is not valid: use a tag of at most 8 characters")
    return result


# Optional fields added after v1 shipped: left out of the fingerprint while at their default,
# so a plan that does not use them keeps the fingerprint its state file was made with.
_LATER_FIELDS = frozenset({"on_partial_fill", "on_failure"})


def _canonical(value: object) -> object:
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name not in _LATER_FIELDS or getattr(value, f.name) != f.default}
    if isinstance(value, (tuple, list)):
        return [_canonical(item) for item in value]
    return value


def plan_fingerprint(plan: TradePlan) -> str:
    """sha256 of the plan's meaning: equal decimals written differently give the same fingerprint."""
    text = json.dumps(_canonical(plan), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class _Build:
    """Mutable scratch space of one compilation; never escapes compile_plan."""

    plan: TradePlan
    market: MarketContext
    caps: Capabilities
    namespace: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checks: list[tuple[Leg, str, Decimal | None]] = field(default_factory=list)

    @property
    def rules(self) -> MarketRules:
        return self.market.rules

    @property
    def exit_side(self) -> Side:
        return self.plan.side.exit_side

    def cid(self, tag: str) -> str:
        return client_order_id(self.plan.name, self.namespace, tag)


def _fail(plan_name: str, symbol: str, problems: list[str]) -> CompileError:
    lines = "\n".join(f"  - {p}" for p in problems)
    return CompileError(f"plan {plan_name} cannot be placed on {symbol}:\n{lines}")


# ---- strategy ----------------------------------------------------------------------------------

def _choose_strategy(b: _Build) -> tuple[Strategy, str]:
    plan, rules, lists = b.plan, b.rules, b.caps.order_lists
    both = bool(plan.take_profits) and plan.stop is not None
    one = bool(plan.take_profits) != (plan.stop is not None)
    kind = plan.entry.type
    if kind is EntryType.NONE:
        return ((Strategy.OCO_NOW, "entry none: protect the holding now, one OCO per take-profit slice")
                if both else (Strategy.ORDER_NOW, "entry none: protect the holding now with one exit "
                              "order per slice"))
    if not (both or one):
        return Strategy.ENTRY_THEN_ORDER, "no take-profit and no stop: only the entry is placed"
    if kind is EntryType.LIMIT:
        buy = plan.side is Side.BUY
        if both and buy and rules.opoco_allowed and "OPOCO" in lists:
            return Strategy.OPOCO, (f"limit buy on {rules.symbol}, which allows OPOCO: the exchange arms "
                                    "take-profit and stop when each entry slice fills, sized from what "
                                    "was actually received")
        if both and rules.otoco_allowed and "OTOCO" in lists:
            why = "OPOCO is for buy entries only" if not buy else "OPOCO is not available here"
            return Strategy.OTOCO, (f"limit entry with take-profit and stop; {why}, so OTOCO arms the "
                                    "exits with a quantity planrunner sizes")
        if one and buy and rules.oto_allowed and rules.opo_allowed and "OPO" in lists:
            return Strategy.OPO, "limit buy with a single exit kind: OPO arms it when the entry fills"
        if one and rules.oto_allowed and "OTO" in lists:
            return Strategy.OTO, "limit entry with a single exit kind: OTO arms it when the entry fills"
        why = f"{rules.symbol} does not allow the order lists needed (otoAllowed/opoAllowed/ocoAllowed)"
    else:
        why = f"a {kind.value} entry cannot be the working order of an order list"
    if both:
        if not (rules.oco_allowed and "OCO" in lists):
            who = (f"{rules.symbol} does not allow OCO order lists (ocoAllowed is false)"
                   if not rules.oco_allowed else f"the {b.caps.name} exchange cannot place OCO order lists")
            b.problems.append(f"{who}, which a take-profit together with a stop needs: keep only the "
                              f"stop or only the take-profits")
        return Strategy.ENTRY_THEN_OCO, f"{why}: entry, wait for the fill, then one OCO per slice"
    return Strategy.ENTRY_THEN_ORDER, f"{why}: entry, wait for the fill, then one exit order per slice"


# ---- legs --------------------------------------------------------------------------------------

def _exit_legs(b: _Build, i: int, qty: Decimal | Deferred | None, ref: Decimal | None,
               pending: bool, tag: str) -> tuple[Leg | None, Leg | None]:
    """(take-profit leg, stop leg) of slice i. ref None: prices relative to the market fill."""
    plan, side, tick = b.plan, b.exit_side, b.rules.tick_size
    est = ref if ref is not None else b.market.last_price
    tp_leg = stop_leg = None
    if plan.take_profits:
        expr = plan.take_profits[i - 1].price
        tp: Decimal | Deferred = take_profit_price(expr.resolve(est), side, tick)
        if ref is None and expr.is_relative:
            tp = deferred_take_profit(expr, side, tp)
        tp_leg = Leg(LegRole.TAKE_PROFIT, b.cid(f"{tag}tp"), side.wire, "LIMIT_MAKER", quantity=qty,
                     price=tp, pending=pending)
    if plan.stop is not None:
        stop_leg = _stop_leg(b, qty, ref, est, pending, b.cid(f"{tag}sl"))
    return tp_leg, stop_leg


def _stop_leg(b: _Build, qty: Decimal | Deferred | None, ref: Decimal | None, est: Decimal,
              pending: bool, cid: str) -> Leg:
    stop, side = b.plan.stop, b.exit_side
    assert stop is not None
    trigger, limit = stop_prices(stop, est, side, b.rules.tick_size)
    t_val: Decimal | Deferred = trigger
    l_val: Decimal | Deferred | None = limit
    if ref is None and stop.trigger.is_relative:
        t_val = deferred_stop(WHAT_TRIGGER, stop, side, trigger)
        if limit is not None and stop.limit is not None:
            l_val = deferred_stop(WHAT_STOP_LIMIT, stop, side, limit)
    delta = _trailing_delta(b)
    market_stop = stop.type is StopType.MARKET or limit is None
    return Leg(LegRole.STOP, cid, side.wire, "STOP_LOSS" if market_stop else "STOP_LOSS_LIMIT",
               quantity=qty, price=None if market_stop else l_val,
               stop_price=None if delta is not None else t_val, trailing_delta=delta,
               time_in_force=None if market_stop else "GTC", pending=pending)


def _trailing_delta(b: _Build) -> int | None:
    stop = b.plan.stop
    if stop is None or stop.trailing is None:
        return None
    bips = trailing_bips(stop.trailing)
    if bips != bips.to_integral_value():
        b.problems.append(f"stop.trailing {fmt(stop.trailing)}% is {fmt(bips)} BIPS; Binance takes "
                          f"whole BIPS (0.01% steps): round stop.trailing to two decimals")
    return int(bips)


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _expire(b: _Build, target: str, client_id: str, is_list: bool) -> Action:
    delay = b.plan.entry.expire_after_s
    return Action(f"expire-{target}", ActionKind.CANCEL,
                  f"cancel the unfilled part of {target} after {_duration(delay or 0)} "
                  f"(needs planrunner running)",
                  request=cancel_request(b.plan.symbol, client_id, is_list=is_list),
                  depends_on=(target,), wait_for=target, emulated=True, delay_s=delay)


# ---- strategies --------------------------------------------------------------------------------

def _list_actions(b: _Build, strategy: Strategy, ref: Decimal, qtys: tuple[Decimal, ...]) -> list[Action]:
    by_fill = strategy in (Strategy.OPOCO, Strategy.OPO)
    actions = []
    for i, qty in enumerate(qtys, start=1):
        pending_qty = None if by_fill else _pending_qty(b, qty)
        working = Leg(LegRole.ENTRY, b.cid(f"l{i}e"), b.plan.side.wire, "LIMIT", quantity=qty, price=ref,
                      time_in_force=b.plan.entry.time_in_force)
        tp, stop = _exit_legs(b, i, pending_qty, ref, True, f"l{i}")
        pending = ordered(tp, stop, b.exit_side.wire)
        list_id = b.cid(f"l{i}")
        b.checks.append((working, label(LegRole.ENTRY, i), None))
        # the exchange sizes OPO legs from what was received: check them at the net estimate
        check_qty = pending_qty if pending_qty is not None else _pending_qty(b, qty)
        b.checks += [(dataclasses.replace(leg, quantity=check_qty), label(leg.role, i), ref)
                     for leg in pending]
        request = triggered_request(b.plan.symbol, list_id, working, pending, by_fill=by_fill)
        legs = (working,) + pending
        actions.append(Action(f"slice-{i}", ActionKind.PLACE_ORDER_LIST,
                              summary(f"slice {i} ({strategy.value})", legs),
                              request=request, client_id=list_id, legs=legs))
        if b.plan.entry.expire_after_s:
            actions.append(_expire(b, f"slice-{i}", list_id, True))
    return actions


def _pending_qty(b: _Build, qty: Decimal) -> Decimal:
    if b.plan.side is Side.SELL:
        return qty
    return floor_qty(qty * (1 - b.market.commission.taker), b.rules.step_size)


def _entry_leg(b: _Build, ref: Decimal | None, trigger: Decimal | None, total: Decimal) -> Leg:
    entry, side, cid = b.plan.entry, b.plan.side.wire, b.cid("e")
    if entry.type is EntryType.MARKET:
        if b.plan.size.kind is SizeKind.SPEND:
            if not b.rules.quote_order_qty_market_allowed:
                b.problems.append(f"{b.rules.symbol} does not allow market orders by quote amount "
                                  f"(quoteOrderQtyMarketAllowed is false): use quantity instead of spend")
            return Leg(LegRole.ENTRY, cid, side, "MARKET", quote_quantity=b.plan.size.amount)
        return Leg(LegRole.ENTRY, cid, side, "MARKET", quantity=total)
    if entry.type is EntryType.STOP_LIMIT:
        return Leg(LegRole.ENTRY, cid, side, "STOP_LOSS_LIMIT", quantity=total, price=ref,
                   stop_price=trigger, time_in_force=entry.time_in_force)
    return Leg(LegRole.ENTRY, cid, side, "LIMIT", quantity=total, price=ref,
               time_in_force=entry.time_in_force)


def _then_actions(b: _Build, ref: Decimal | None, trigger: Decimal | None,
                  total: Decimal, portions: tuple[Decimal, ...]) -> list[Action]:
    entry = _entry_leg(b, ref, trigger, total)
    b.checks.append((entry, "entry", b.market.last_price if trigger is not None else None))
    actions = [Action("entry", ActionKind.PLACE_ORDER, summary("entry", (entry,)),
                      request=order_request(b.plan.symbol, entry), client_id=entry.client_order_id,
                      legs=(entry,))]
    if b.plan.entry.expire_after_s and b.plan.entry.type is not EntryType.MARKET:
        actions.append(_expire(b, "entry", entry.client_order_id, False))
    if not b.plan.take_profits and b.plan.stop is None:
        return actions
    actions.append(Action("await-entry", ActionKind.AWAIT_FILL, "wait until the entry is filled",
                          depends_on=("entry",), wait_for="entry"))
    net = total if b.plan.side is Side.SELL else total * (1 - b.market.commission.taker)
    estimates = split_quantity(net, portions, b.rules.step_size)
    qtys = tuple(deferred_qty(portions, i, q) for i, q in enumerate(estimates, start=1))
    est_ref = ref if ref is not None else b.market.last_price
    actions += _exit_actions(b, qtys, ref, est_ref, ("await-entry",))
    return actions


def _exit_actions(b: _Build, qtys: tuple[Decimal | Deferred, ...],
                  ref: Decimal | None, check_ref: Decimal, depends: tuple[str, ...]) -> list[Action]:
    actions = []
    for i, qty in enumerate(qtys, start=1):
        tp, stop = _exit_legs(b, i, qty, ref, False, f"x{i}")
        legs = ordered(tp, stop, b.exit_side.wire)
        b.checks += [(leg, label(leg.role, i), check_ref) for leg in legs]
        after = any(isinstance(v, Deferred)
                    for leg in legs for v in (leg.quantity, leg.price, leg.stop_price))
        if len(legs) == 2:
            list_id = b.cid(f"x{i}")
            request = oco_request(b.plan.symbol, list_id, legs[0], legs[1])
            actions.append(Action(f"exit-{i}", ActionKind.PLACE_ORDER_LIST, summary(f"exit {i} (OCO)", legs),
                                  request=request, client_id=list_id, legs=legs, depends_on=depends,
                                  after_fill=after))
        elif legs:
            leg = legs[0]
            actions.append(Action(f"exit-{i}", ActionKind.PLACE_ORDER, summary(f"exit {i}", legs),
                                  request=order_request(b.plan.symbol, leg), client_id=leg.client_order_id,
                                  legs=legs, depends_on=depends, after_fill=after))
    return actions


# ---- whole-plan checks and warnings ------------------------------------------------------------

def _check_symbol(b: _Build) -> None:
    rules = b.rules
    if b.plan.symbol != rules.symbol:
        b.problems.append(f"the market rules are for {rules.symbol}, not {b.plan.symbol}")
    if rules.status != "TRADING" or not rules.is_spot_trading_allowed:
        b.problems.append(f"{rules.symbol} is not open for spot trading (status {rules.status}): "
                          f"wait until it trades again")
    stop = b.plan.stop
    if stop is not None and stop.trailing is not None and not rules.allow_trailing_stop:
        b.problems.append(f"{rules.symbol} does not allow trailing stops (allowTrailingStop is false): "
                          f"remove stop.trailing")


def _check_counts(b: _Build, strategy: Strategy, actions: list[Action]) -> None:
    placing = [a for a in actions if a.kind in (ActionKind.PLACE_ORDER, ActionKind.PLACE_ORDER_LIST)]
    phases = [placing] if strategy in LIST_STRATEGIES else [
        [a for a in placing if a.id == "entry"], [a for a in placing if a.id != "entry"]]
    slices = sum(1 for a in placing if a.id != "entry")
    b.problems += count_problems(b.rules, [[(a.kind is ActionKind.PLACE_ORDER_LIST, a.legs) for a in p]
                                           for p in phases], max(slices, 1))


def _warn(b: _Build, strategy: Strategy, ref: Decimal | None) -> None:
    plan, last = b.plan, b.market.last_price
    if plan.entry.type is EntryType.LIMIT and ref is not None:
        if (plan.side is Side.BUY and ref > last) or (plan.side is Side.SELL and ref < last):
            where = "above" if plan.side is Side.BUY else "below"
            b.warnings.append(f"the {plan.side.value} limit {fmt(ref)} is {where} the last price "
                              f"{fmt(last)}: it fills at once as a taker")
    _warn_stop_gap(b, ref if ref is not None else last)
    if strategy in (Strategy.OTOCO, Strategy.OTO) and plan.side is Side.BUY:
        b.warnings.append(f"exits are sized net of an estimated {fmt(b.market.commission.taker * 100)}% "
                          f"commission; base-asset dust may remain after they fill")
    if plan.entry.expire_after_s:
        if plan.entry.type in (EntryType.MARKET, EntryType.NONE):
            b.warnings.append(f"expire_after has no effect on a {plan.entry.type.value} entry")
        else:
            b.warnings.append(f"expire_after is emulated: the cancel after "
                              f"{_duration(plan.entry.expire_after_s)} happens only while planrunner "
                              f"is running")
    if strategy in (Strategy.ENTRY_THEN_OCO, Strategy.ENTRY_THEN_ORDER):
        b.warnings.append("the exits are placed by planrunner after the entry fills: keep planrunner "
                          "running until then (the position is unprotected in between)")
    if not plan.take_profits and plan.stop is None:
        b.warnings.append("the plan has no take-profit and no stop: nothing exits the position")
    if plan.entry.on_partial_fill is PartialFill.WAIT and plan.entry.type is not EntryType.NONE:
        b.warnings.append("entry.on_partial_fill wait: a partly filled entry has no exits for the "
                          "filled part until it ends; planrunner keeps running until then")


def _warn_stop_gap(b: _Build, ref: Decimal) -> None:
    stop = b.plan.stop
    if stop is None or stop.limit is None or stop.type is StopType.MARKET:
        return
    trigger, limit = stop_prices(stop, ref, b.exit_side, b.rules.tick_size)
    if limit is not None and abs(trigger - limit) <= trigger * TIGHT_GAP:
        b.warnings.append(f"the stop limit {fmt(limit)} is within 0.1% of its trigger {fmt(trigger)}: "
                          f"in a fast market it may not fill; widen stop.limit or use stop type: market")


# ---- public API --------------------------------------------------------------------------------

def _actions(b: _Build, strategy: Strategy, ref: Decimal | None, trigger: Decimal | None,
             total: Decimal, qtys: tuple[Decimal, ...]) -> list[Action]:
    if strategy in LIST_STRATEGIES and ref is not None:
        return _list_actions(b, strategy, ref, qtys)
    if strategy in (Strategy.OCO_NOW, Strategy.ORDER_NOW):
        return _exit_actions(b, qtys, ref, b.market.last_price, ())
    portions = tuple(tp.portion for tp in b.plan.take_profits) or (HUNDRED,)
    return _then_actions(b, ref, trigger, total, portions)


def compile_plan(plan: TradePlan, market: MarketContext, capabilities: Capabilities,
                 namespace: str) -> ActionPlan:
    """Compile a valid plan for this market. Raises CompileError listing every problem."""
    b = _Build(plan, market, capabilities, namespace)
    _check_symbol(b)
    ref, trigger = entry_reference(plan, market, b.problems)
    total = total_quantity(plan, market, ref, b.problems, b.warnings)
    strategy, reason = _choose_strategy(b)
    portions = tuple(tp.portion for tp in plan.take_profits) or (HUNDRED,)
    is_market = plan.entry.type is EntryType.MARKET
    qtys = split_quantity(total, portions,
                          market.rules.effective_market_step if is_market else market.rules.step_size)
    actions = _actions(b, strategy, ref, trigger, total, qtys)
    for leg, where, trigger_ref in b.checks:
        b.problems += check_leg(leg, where, market, trigger_ref)
    _check_counts(b, strategy, actions)
    if b.problems:
        raise _fail(plan.name, plan.symbol, list(dict.fromkeys(b.problems)))
    _warn(b, strategy, ref)
    risk = risk_summary(plan, market, ref, qtys)
    return ActionPlan(plan.name, plan.exchange, plan.symbol, plan.side.value, strategy, reason,
                      tuple(actions), risk, plan_fingerprint(plan), namespace, market.last_price,
                      tuple(dict.fromkeys(b.warnings)), plan.entry.on_partial_fill.value,
                      plan.stop.on_failure.value if plan.stop else "exit_market")


def _deferreds(action: Action) -> list[Deferred]:
    found = [v for _, v in (action.request.params if action.request else ()) if isinstance(v, Deferred)]
    found += [v for leg in action.legs for v in (leg.quantity, leg.price, leg.stop_price)
              if isinstance(v, Deferred)]
    return list(dict.fromkeys(found))


def resolve_values(action: Action, fill: EntryFill, market: MarketContext) -> Action:
    """Replace every Deferred of an after-fill action with its concrete, rounded value
    (unchecked: the protection policy reads a failed exit's prices through this)."""
    pending = _deferreds(action)
    if not pending:
        return action
    base, rules = market.rules.base_asset, market.rules
    if fill.net_qty <= ZERO or fill.avg_price <= ZERO:
        raise _fail(action.id, rules.symbol, [f"the entry filled nothing ({fmt(fill.net_qty)} {base}): "
                                              f"there is nothing to exit"])
    values = {d: resolve_deferred(d, fill.avg_price, fill.net_qty, rules) for d in pending}
    legs = tuple(substitute_leg(leg, values) for leg in action.legs)
    request = substitute_request(action.request, values) if action.request else None
    return dataclasses.replace(action, request=request, legs=legs, after_fill=False)


def resolve_action(action: Action, fill: EntryFill, market: MarketContext) -> Action:
    """Replace every Deferred of an after-fill action with its concrete, rounded, checked value."""
    if not _deferreds(action):
        return action
    resolved = resolve_values(action, fill, market)
    index = int(action.id.rsplit("-", 1)[1]) if action.id[-1:].isdigit() else None
    problems = [p for leg in resolved.legs
                for p in check_leg(leg, label(leg.role, index), market, market.last_price)]
    if problems:
        prefix = (f"after the entry filled {fmt(fill.net_qty)} {market.rules.base_asset} net at "
                  f"{fmt(fill.avg_price)}: ")
        raise _fail(action.id, market.rules.symbol, [prefix + p for p in problems])
    return resolved
