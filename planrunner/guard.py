"""What planrunner does about an unprotected position (pure): the partial-fill policy
(entry.on_partial_fill), repairs after drift, and the protection-failure policy (stop.on_failure).

`decide` looks at the state and returns at most one Decision; the engine carries it out (intent
persisted first) and asks again. Every decision leaves a mark in the state (a follow-up step or a
record), so the same situation never produces a second decision: there is no repair loop.

The policy, stated once:
- an exit carrying step (`exit-N` / `slice-N` and their follow-ups) that ended with quantity
  still held and no live exit (cancelled by hand, expired, vanished, or a list whose working
  order ended partly filled) gets protection re-placed for the held quantity, at the plan's
  prices for that slice (`<step>-rN`), at most MAX_REPAIRS times;
- an exit that cannot be placed: insufficient balance -> resized to the free balance and retried
  once; would trigger (match) immediately -> `reprice` moves the stop just beyond the market
  (never past the stop limit) once, `exit_market` (default) sells / buys back at market; any
  other refusal, or a retry that fails too -> exit at market (`<step>-close`);
- when the exit at market fails, or an order vanished and the balance cannot be checked,
  planrunner stops and says what to do (an `unsafe` record: every later run stops the same way).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from planrunner.actions import Action, ActionPlan, Leg, Strategy
from planrunner.compile import client_order_id
from planrunner.exchanges.base import MarketContext, OrderStatus
from planrunner.money import ZERO, fmt
from planrunner.position import position
from planrunner.protect import (MAX_REPAIRS, chain_base, close_id, exit_legs, is_follow_up,
                                market_exit_action, problems, protection_action, repair_id,
                                repair_number, repriced, request_quantity, slice_tag, tradable)
from planrunner.reconcile import entry_fill
from planrunner.state import DriftRecord, State, Step, StepStatus

IMMEDIATE = ("trigger immediately", "match immediately")
NONE_STRATEGIES = (Strategy.OCO_NOW, Strategy.ORDER_NOW)


class Move(StrEnum):
    CANCEL = "cancel"  # cancel the rest of a partly filled entry (step_id)
    PLACE = "place"  # place `action` (a follow-up protection or a market exit)
    RECORD = "record"  # only say it: nothing can or needs to be placed
    STOP = "stop"  # unsafe: stop and let a person decide


@dataclass(frozen=True, slots=True)
class Decision:
    move: Move
    record: DriftRecord
    step_id: str | None = None
    action: Action | None = None


@dataclass(frozen=True, slots=True)
class Situation:
    state: State
    plan: ActionPlan
    quote: Callable[[], MarketContext]  # the market now (read only when a decision needs it)
    wallet: Callable[[], Mapping[str, Decimal] | None]  # free balances; None: cannot say
    now_ms: int
    leaving: bool = False  # planrunner is about to stop watching
    legs_of: Callable[[State, Step], tuple[Leg, ...]] = lambda _, step: exit_legs(step)

    @property
    def market(self) -> MarketContext:
        return self.quote()

    @property
    def balances(self) -> Mapping[str, Decimal] | None:
        return self.wallet()

    def exits(self, step: Step) -> tuple[Leg, ...]:
        return self.legs_of(self.state, step)

    @property
    def exit_side(self) -> str:
        return "SELL" if self.plan.side == "buy" else "BUY"


def decide(s: Situation) -> Decision | None:
    unsafe = next((d for d in s.state.drift if d.unsafe), None)
    if unsafe is not None:
        return Decision(Move.STOP, unsafe)
    cancel = _partial_cancel(s)
    if cancel is not None:
        return cancel
    for base in _bases(s):
        decision = _slice(s, base, _chain(s.state, base))
        if decision is not None:
            return decision
    return None


def unprotected_partial(state: State) -> list[Step]:
    """Open steps whose entry has filled partly (exits not armed for that part yet)."""
    return [step for step in state.steps if step.status is StepStatus.PLACED
            and (entry := _entry_record(state, step)) is not None
            and entry.status == OrderStatus.PARTIALLY_FILLED]


# ---- partial fills ------------------------------------------------------------------------------

def _entry_record(state: State, step: Step):
    leg = next((leg for leg in step.legs if leg.role == "entry"), None)
    return state.order(leg.client_order_id) if leg else None


def _partial_cancel(s: Situation) -> Decision | None:
    policy = s.plan.on_partial_fill
    for step in unprotected_partial(s.state):
        is_list = len(step.legs) > 1
        wanted = policy == "cancel_remainder" or (s.leaving and is_list and
                                                  policy == "protect_filled")
        if wanted and step.cancel_sent_ms is None:
            entry = _entry_record(s.state, step)
            why = ("entry.on_partial_fill is cancel_remainder" if policy == "cancel_remainder"
                   else "planrunner is about to stop watching (entry.on_partial_fill "
                        "protect_filled)")
            return Decision(Move.CANCEL, _record(s, step, "partial_fill", (
                f"{step.id} filled {fmt(entry.executed_qty)} of {fmt(entry.orig_qty)}"),
                f"cancelling the rest because {why}; the filled part gets its exits"),
                step_id=step.id)
    return None


# ---- slices -------------------------------------------------------------------------------------

def _bases(s: Situation) -> list[str]:
    return [a.id for a in s.plan.actions if chain_base(a.id) == a.id]


def _chain(state: State, base: str) -> list[Step]:
    return [step for step in state.steps if chain_base(step.id) == base]


def _slice(s: Situation, base: str, chain: list[Step]) -> Decision | None:
    current = chain[-1] if chain else None
    if current is None or _recorded(s.state, current.id):
        return None
    if current.id == close_id(base):
        if current.status is StepStatus.FAILED:
            return _stop(s, current, f"the exit at market failed ({current.last_error})")
        return None
    placed = any(s.state.order(cid) is not None for cid in current.leg_ids())
    if placed and current.status in (StepStatus.DONE, StepStatus.FAILED):
        return _after_end(s, base, current)
    if current.status is StepStatus.FAILED and (is_follow_up(current.id)
                                                or not _has_entry(current)):
        return _after_failure(s, base, current)
    return None


def _has_entry(step: Step) -> bool:
    return any(leg.role == "entry" for leg in step.legs)


def _recorded(state: State, step_id: str) -> bool:
    return any(d.step == step_id and d.kind == "protection" for d in state.drift)


def _after_end(s: Situation, base: str, step: Step) -> Decision | None:
    need = _remaining(s, step)
    if need <= ZERO:
        return None
    vanished = any(d.step == step.id and d.kind == "vanished" for d in s.state.drift)
    if vanished and s.balances is None:
        return _stop(s, step, "an order vanished from the exchange and its balance cannot be "
                              "checked, so planrunner cannot tell what is still held")
    qty = tradable(_capped(s, need), s.market, at_market=False)
    if qty <= ZERO:
        return _note(s, step, f"{fmt(need)} {s.market.rules.base_asset} of {step.id} is no "
                              f"longer protected", "nothing re-placed: what is left is under the "
                              "exchange minimum (or no longer held)")
    return _reprotect(s, base, step, s.exits(step), qty,
                      f"{step.id} no longer protects {fmt(need)} {s.market.rules.base_asset}")


def _after_failure(s: Situation, base: str, step: Step) -> Decision | None:
    error = (step.last_error or "").lower()
    planned = request_quantity(step) or _leg_quantity(s.exits(step))
    need = _capped(s, planned if planned is not None else _held(s))
    why = f"{step.id} could not be placed ({step.last_error})"
    if is_follow_up(step.id) or repair_number(step.id) >= MAX_REPAIRS:
        return _exit_market(s, base, step, need, why + "; the one retry failed too")
    if "insufficient balance" in error:
        qty = tradable(_capped(s, need * (1 - s.market.commission.taker)
                               if s.balances is None else need), s.market, at_market=False)
        action = _protection(s, base, step, s.exits(step), qty) if qty > ZERO else None
        if action is not None and not problems(action.legs, s.market):
            return _place(s, step, why, action, f"resized to {fmt(qty)} (the free balance) "
                                                f"and placed once more as {action.id}")
        return _exit_market(s, base, step, need, why)
    qty = tradable(need, s.market, at_market=False)
    if any(text in error for text in IMMEDIATE) and qty > ZERO:
        return _reprotect(s, base, step, s.exits(step), qty, why)
    return _exit_market(s, base, step, need, why)


def _leg_quantity(legs: tuple[Leg, ...]) -> Decimal | None:
    qty = legs[0].quantity if legs else None
    return qty if isinstance(qty, Decimal) else None


def _reprotect(s: Situation, base: str, step: Step, legs: tuple[Leg, ...], qty: Decimal,
               why: str) -> Decision | None:
    if not legs or repair_number(step.id) >= MAX_REPAIRS:
        return _exit_market(s, base, step, qty, why)
    action = _protection(s, base, step, legs, qty)
    found = problems(action.legs, s.market)
    if not found:
        return _place(s, step, why, action, f"re-placed protection for {fmt(qty)} "
                                            f"{s.market.rules.base_asset} as {action.id}")
    immediate = any(text in p for p in found for text in IMMEDIATE)
    moved = repriced(legs, s.market) if immediate and s.plan.on_failure == "reprice" else None
    if moved is not None:
        action = _protection(s, base, step, moved, qty)
        return _place(s, step, why + f" and the market moved ({found[0]})",
                      action, f"stop repriced just beyond the market (stop.on_failure reprice), "
                              f"placed as {action.id}")
    return _exit_market(s, base, step, qty, f"{why}; {found[0]}")


def _protection(s: Situation, base: str, step: Step, legs: tuple[Leg, ...],
                qty: Decimal) -> Action:
    n = repair_number(step.id) + 1
    cid = client_order_id(s.plan.plan_name, s.plan.namespace, f"{slice_tag(base)}r{n}")
    return protection_action(repair_id(base, n), cid, s.plan.symbol, legs, qty)


def _exit_market(s: Situation, base: str, step: Step, qty: Decimal, why: str) -> Decision:
    amount = tradable(_capped(s, qty), s.market, at_market=True)
    if amount <= ZERO:
        return _note(s, step, why, f"nothing to exit at market: {fmt(qty)} "
                                   f"{s.market.rules.base_asset} is under the exchange minimum")
    cid = client_order_id(s.plan.plan_name, s.plan.namespace, f"{slice_tag(base)}c")
    action = market_exit_action(close_id(base), cid, s.plan.symbol, s.exit_side, amount)
    return _place(s, step, why, action, f"exiting {fmt(amount)} {s.market.rules.base_asset} at "
                                        f"market as {action.id} (stop.on_failure)")


# ---- quantities ---------------------------------------------------------------------------------

def _remaining(s: Situation, step: Step) -> Decimal:
    """What this step was to protect and no longer does."""
    state = s.state
    if _has_entry(step):
        entry = _entry_record(state, step)
        if entry is None or entry.executed_qty <= ZERO:
            return ZERO
        if entry.status != OrderStatus.FILLED:  # exits were never armed
            return entry_fill(state, step, s.market).net_qty
    exits = [r for leg in step.legs if leg.role != "entry"
             and (r := state.order(leg.client_order_id)) is not None]
    if any(not OrderStatus(r.status).is_final for r in exits) or not exits:
        return ZERO
    return max(r.orig_qty for r in exits) - sum((r.executed_qty for r in exits), ZERO)


def _held(s: Situation) -> Decimal:
    """Base held because of the plan and not covered by a live exit."""
    state, entry_side = s.state, s.plan.side.upper()
    pos = position(state, entry_side, s.market)
    if s.plan.strategy in NONE_STRATEGIES:
        planned = sum((q for a in s.plan.actions if not is_follow_up(a.id)
                       and (st := state.step(a.id)) is not None
                       and (q := request_quantity(st)) is not None), ZERO)
        held = planned - pos.exited
    else:
        held = pos.open_qty
    return max(held - _live_protection(state), ZERO)


def _live_protection(state: State) -> Decimal:
    total = ZERO
    for step in state.steps:
        if step.status is StepStatus.SENDING and not _has_entry(step):
            total += request_quantity(step) or ZERO
        elif step.status is StepStatus.PLACED:
            live = [r.orig_qty - r.executed_qty for leg in step.legs if leg.role != "entry"
                    and (r := state.order(leg.client_order_id)) is not None
                    and r.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)]
            total += max(live, default=ZERO)
    return total


def _capped(s: Situation, qty: Decimal) -> Decimal:
    qty = min(qty, _held(s))
    if s.balances is None:
        return qty
    rules = s.market.rules
    if s.exit_side == "SELL":
        return min(qty, s.balances.get(rules.base_asset, ZERO))
    return min(qty, s.balances.get(rules.quote_asset, ZERO) / s.market.last_price)


# ---- decisions ----------------------------------------------------------------------------------

def _record(s: Situation, step: Step, kind: str, change: str, action: str, *,
            unsafe: bool = False) -> DriftRecord:
    return DriftRecord(step.id, step.client_id or "", kind, change, s.now_ms, action, unsafe)


def _place(s: Situation, step: Step, why: str, action: Action, did: str) -> Decision:
    return Decision(Move.PLACE, _record(s, step, "protection", why, did), action=action)


def _note(s: Situation, step: Step, why: str, did: str) -> Decision:
    return Decision(Move.RECORD, _record(s, step, "protection", why, did))


def _stop(s: Situation, step: Step, why: str) -> Decision:
    held = f"{fmt(_held(s))} {s.market.rules.base_asset}"
    advice = (f"stopped: the position ({held} by the state) may be unprotected. Check the "
              f"orders and balance on the exchange; then run `planrunner cancel --close` to "
              f"exit at market, or protect it by hand and move the state file away")
    return Decision(Move.STOP, _record(s, step, "protection", why, advice, unsafe=True))

