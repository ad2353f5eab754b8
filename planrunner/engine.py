"""The step engine: executes an ActionPlan against an exchange, exactly once, resumably.

Every transition is saved before and after the exchange call it concerns: a step is persisted
as `sending` (with its exact request and client id) before it is sent, so after a crash, an
interrupt or an unknown outcome the engine looks the order up by client id and adopts it; only
an order proven absent is sent again, with the same client id. The engine never prints: it
reports through a hooks object.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from planrunner import guard
from planrunner.actions import Action, ActionKind, ActionPlan
from planrunner.clock import Clock
from planrunner.drift import refresh_step
from planrunner.engine_guard import Protection
from planrunner.errors import (CompileError, OrderNotFound, OrderRejected, OutcomeUnknown,
                               RateLimited, StateError, TransientError)
from planrunner.exchanges.base import Exchange, ExchangeRequest, MarketContext, OrderStatus
from planrunner.money import ZERO
from planrunner.protect import is_follow_up, rebuilt_action
from planrunner.reconcile import (Lookup, RetryPolicy, Snapshot, entry_fill, outcome,
                                  primary_leg, realised_pnl, record_snapshot)
from planrunner.state import DriftRecord, FillRecord, LegIds, State, StateStore, Step, StepStatus

PLACING = (ActionKind.PLACE_ORDER, ActionKind.PLACE_ORDER_LIST)
ResolveAction = Callable[[Action, Any, MarketContext], Action]


class EngineHooks(Protocol):
    def step_started(self, step: Step) -> None: ...
    def order_placed(self, step: Step, snapshot: Snapshot) -> None: ...
    def fill(self, step: Step, fill: FillRecord) -> None: ...
    def waiting(self, status: Mapping[str, Any]) -> None: ...
    def step_done(self, step: Step) -> None: ...
    def plan_complete(self, state: State) -> None: ...
    def note(self, text: str) -> None: ...
    def drift(self, record: DriftRecord) -> None: ...


class NullHooks:
    def step_started(self, step: Step) -> None: pass
    def order_placed(self, step: Step, snapshot: Snapshot) -> None: pass
    def fill(self, step: Step, fill: FillRecord) -> None: pass
    def waiting(self, status: Mapping[str, Any]) -> None: pass
    def step_done(self, step: Step) -> None: pass
    def plan_complete(self, state: State) -> None: pass
    def note(self, text: str) -> None: pass
    def drift(self, record: DriftRecord) -> None: pass


class Engine(Protection):
    def __init__(self, exchange: Exchange, store: StateStore, clock: Clock,
                 resolve_action: ResolveAction, hooks: EngineHooks | None = None, *,
                 tick: Callable[[], None] | None = None, poll_interval_s: float = 2.0,
                 max_polls: int | None = None, retry: RetryPolicy = RetryPolicy()):
        self.exchange = exchange
        self.store = store
        self.clock = clock
        self.resolve_action = resolve_action
        self.hooks: EngineHooks = hooks or NullHooks()
        self.tick = tick
        self.poll_interval_s = poll_interval_s
        self.max_polls = max_polls  # None: wait as long as it takes
        self.retry = retry
        self.lookup = Lookup(exchange, clock, retry, self.hooks.note)

    # -- the loop -----------------------------------------------------------------------------

    def run(self, action_plan: ActionPlan, state: State, *, follow: bool) -> State:
        self.plan = action_plan
        self.started_ms = self.clock.now_ms()
        self.market = self.lookup.read(self.exchange.market_context, action_plan.symbol)
        self.live = self.lookup.read(self.exchange.capabilities).live
        state = self._reconcile(self._prepare(state))
        polls = 0
        while True:
            state, progressed = self._pass(state)
            if progressed:
                continue
            state, progressed = self._guard(state, leaving=False)
            if progressed:
                continue
            if all(s.status.is_final for s in state.steps):
                self.hooks.plan_complete(state)
                return state
            if self.live and not follow and self._exchange_armed(state):
                state, progressed = self._guard(state, leaving=True)
                if progressed:
                    continue
                self.hooks.note("everything left is enforced by the exchange; exiting "
                                "(re-run to follow it, or use --follow)")
                return state
            if self.max_polls is not None and polls >= self.max_polls:
                self.hooks.note("stopped waiting; re-run to resume")
                return state
            self._wait(state)
            polls += 1
            state = self._refresh(state)

    def _prepare(self, state: State) -> State:
        plan = self.plan
        if state.plan_fingerprint != plan.fingerprint or state.namespace != plan.namespace:
            raise StateError(
                f"the state is for plan '{state.plan_name}' (namespace {state.namespace}) but the "
                f"compiled plan is '{plan.plan_name}' (namespace {plan.namespace}): compile the "
                f"plan with the state's namespace, or use a new state file")
        for action in plan.actions:
            existing = state.step(action.id)
            if existing is None:
                state = state.with_step(Step(id=action.id, kind=action.kind.value))
            elif existing.client_id not in (None, action.client_id):
                raise StateError(f"step {action.id} was sent as {existing.client_id} but the plan "
                                 f"now says {action.client_id}: use a new state file")
        known = {a.id for a in plan.actions}
        extra = [s for s in state.steps if s.id not in known]
        # follow-ups (repairs, market exits) live only in the state; a partial plan (cancel
        # --close) neither rebuilds them nor guards: it must not act on the whole plan's behalf
        self.guarding = all(is_follow_up(s.id) for s in extra)
        if self.guarding and extra:
            self.plan = dataclasses.replace(plan, actions=plan.actions + tuple(
                rebuilt_action(s) for s in extra))
        return self._save(state)

    def _reconcile(self, state: State) -> State:
        """Before anything new is sent: learn what the exchange has for every step in flight."""
        for step in state.steps:
            if step.status is StepStatus.SENDING and step.kind in PLACING:
                found = self.lookup.prove(step, self.plan.symbol)
                if found is not None:
                    self.hooks.note(f"{step.id}: found {step.client_id} on the exchange; adopted")
                    state = self._adopt(state, step, found)
                else:
                    self.hooks.note(f"{step.id}: {step.client_id} never reached the exchange; "
                                    f"it will be sent again with the same client id")
        return self._refresh(state)

    def _pass(self, state: State) -> tuple[State, bool]:
        """Do the first thing that can be done; (state, whether anything changed)."""
        for action in self.plan.actions:
            step = state.step(action.id)
            assert step is not None
            if step.status.is_final:
                continue
            deps = [state.step(d) for d in action.depends_on]
            failed = [d for d in deps if d is not None and d.status in
                      (StepStatus.FAILED, StepStatus.SKIPPED)]
            if failed:
                reason = f"skipped because {failed[0].id} did not complete"
                return self._finish(state, step, StepStatus.SKIPPED, reason), True
            if not all(d is not None and self._satisfied(d) for d in deps):
                continue
            state, changed = self._advance(state, action, step)
            if changed:
                return state, True
        return state, False

    def _advance(self, state: State, action: Action, step: Step) -> tuple[State, bool]:
        if action.kind in PLACING:
            if step.status in (StepStatus.PENDING, StepStatus.SENDING):
                return self._place(state, action, step), True
            return state, False
        if action.kind is ActionKind.AWAIT_FILL:
            return self._await(state, action, step)
        return self._cancel(state, action, step)

    @staticmethod
    def _satisfied(dep: Step) -> bool:
        if dep.kind == ActionKind.AWAIT_FILL.value:
            return dep.status is StepStatus.DONE
        return dep.status in (StepStatus.PLACED, StepStatus.WAITING, StepStatus.DONE)

    def _exchange_armed(self, state: State) -> bool:
        open_steps = [s for s in state.steps if not s.status.is_final]
        if self.plan.on_partial_fill == "wait" and guard.unprotected_partial(state):
            return False  # wait: keep watching while a filled part has no exits yet
        return all(s.status is StepStatus.PLACED and s.kind in PLACING
                   and not self.plan.action(s.id).emulated for s in open_steps)

    # -- placing ------------------------------------------------------------------------------

    def _place(self, state: State, action: Action, step: Step) -> State:
        self.hooks.step_started(step)
        if step.status is StepStatus.PENDING:
            try:
                action = self._concrete(state, action)
            except CompileError as exc:
                return self._finish(state, step, StepStatus.FAILED, str(exc))
            request = action.request.concrete() if action.request else None
            if request is None:
                return self._finish(state, step, StepStatus.FAILED, "no request to send")
            step = dataclasses.replace(
                step, status=StepStatus.SENDING, client_id=action.client_id,
                endpoint=request.endpoint, request=request.params, sent_ms=self.clock.now_ms(),
                legs=tuple(LegIds(leg.role.value, leg.client_order_id) for leg in action.legs))
        return self._send(state, step)

    def _concrete(self, state: State, action: Action) -> Action:
        if not action.after_fill and (action.request is None or action.request.is_concrete):
            return action
        fill = entry_fill(state, self._entry_step(state, action), self.market)
        market = self.lookup.read(self.exchange.market_context, self.plan.symbol)
        return self.resolve_action(action, fill, market)

    def _entry_step(self, state: State, action: Action) -> Step:
        for dep_id in action.depends_on:
            dep = self.plan.action(dep_id)
            if dep.kind is ActionKind.AWAIT_FILL and dep.wait_for:
                target = state.step(dep.wait_for)
                assert target is not None
                return target
        raise CompileError(f"{action.id} needs an entry fill but waits for no entry")

    def _send(self, state: State, step: Step) -> State:
        method, path = (step.endpoint or " ").split(" ", 1)
        request = ExchangeRequest(method, path, step.request)
        for _ in range(self.retry.send_attempts):
            step = dataclasses.replace(step, attempts=step.attempts + 1)
            state = self._save(state.with_step(step))
            try:
                snap = self.exchange.submit(request)
            except OrderRejected as exc:
                return self._rejected(state, step, exc)
            except (OutcomeUnknown, TransientError) as exc:
                if isinstance(exc, RateLimited) and exc.retry_after:
                    self.clock.sleep(exc.retry_after)
                self.hooks.note(f"{step.id}: outcome of sending {step.client_id} unknown "
                                f"({exc}); looking it up before anything else")
                found = self.lookup.prove(step, self.plan.symbol)
                if found is not None:
                    return self._adopt(state, step, found)
                continue
            return self._adopt(state, step, snap)
        raise OutcomeUnknown(f"{step.id}: could not place {step.client_id} after "
                             f"{self.retry.send_attempts} attempts; re-run to try again")

    def _rejected(self, state: State, step: Step, exc: OrderRejected) -> State:
        # "Duplicate order sent." may mean the order is ours from an earlier attempt.
        found = self.lookup.find(step, self.plan.symbol)
        if found is not None:
            return self._adopt(state, step, found)
        return self._finish(state, step, StepStatus.FAILED, f"rejected by the exchange: {exc}")

    def _adopt(self, state: State, step: Step, snap: Snapshot) -> State:
        state = state.with_step(dataclasses.replace(
            step, status=StepStatus.PLACED, placed_ms=step.placed_ms or self.clock.now_ms()))
        state, fills = record_snapshot(state, step.id, self.lookup.with_trades(state, snap))
        state = self._save(self._with_pnl(state))
        placed = state.step(step.id)
        assert placed is not None
        self.hooks.order_placed(placed, snap)
        self._report(state, fills)
        return self._save(self._settle(state, step.id))

    # -- waiting, cancelling, refreshing --------------------------------------------------------

    def _await(self, state: State, action: Action, step: Step) -> tuple[State, bool]:
        target = state.step(action.wait_for or "")
        assert target is not None
        record = state.order(primary_leg(target) or "")
        if step.status is StepStatus.PENDING:
            self.hooks.step_started(step)
        if record is not None and OrderStatus(record.status).is_final:
            if record.executed_qty > 0:
                if record.status != OrderStatus.FILLED:
                    self.hooks.note(f"{target.id} ended {record.status} after filling "
                                    f"{record.executed_qty}; exits are sized on that")
                return self._finish(state, step, StepStatus.DONE, None), True
            reason = f"{record.client_order_id} ended {record.status} without filling"
            return self._finish(state, step, StepStatus.FAILED, reason), True
        if step.status is StepStatus.PENDING:
            return self._save(state.with_step(
                dataclasses.replace(step, status=StepStatus.WAITING))), True
        return state, False

    def _cancel(self, state: State, action: Action, step: Step) -> tuple[State, bool]:
        target = state.step(action.wait_for or "")
        assert target is not None
        if target.status.is_final:
            return self._finish(state, step, StepStatus.DONE, None), True
        due_ms = (target.placed_ms or 0) + (action.delay_s or 0) * 1000
        if self.clock.now_ms() < due_ms:
            if step.status is StepStatus.PENDING:
                self.hooks.step_started(step)
                return self._save(state.with_step(
                    dataclasses.replace(step, status=StepStatus.WAITING))), True
            return state, False
        entry = state.order(primary_leg(target) or "")
        if entry is not None and entry.status == OrderStatus.FILLED:
            # cancelling now would only remove the exits the filled entry armed
            self.hooks.note(f"{target.id}: entry already filled; nothing to cancel")
            return self._finish(state, step, StepStatus.DONE, None), True
        if entry is not None and entry.executed_qty > 0:
            self.hooks.note(f"{target.id}: cancelling after a partial fill of "
                            f"{entry.executed_qty}; that part is not protected by the exchange")
        state = self._save(state.with_step(dataclasses.replace(
            step, status=StepStatus.SENDING, sent_ms=self.clock.now_ms(),
            attempts=step.attempts + 1)))
        state = self._cancel_target(state, target)
        step = state.step(step.id)
        assert step is not None
        return self._finish(state, step, StepStatus.DONE, None), True

    def _cancel_target(self, state: State, target: Step) -> State:
        symbol, cid = self.plan.symbol, target.client_id or ""
        # persisted first: the cancelled legs are then never mistaken for drift
        target = dataclasses.replace(target, cancel_sent_ms=self.clock.now_ms())
        state = self._save(state.with_step(target))
        try:
            if target.kind == ActionKind.PLACE_ORDER_LIST.value:
                snap: Snapshot = self.lookup.read(self.exchange.cancel_order_list, symbol, cid)
            else:
                snap = self.lookup.read(self.exchange.cancel_order, symbol, cid)
        except (OrderRejected, OrderNotFound) as exc:
            self.hooks.note(f"{target.id}: nothing left to cancel ({exc})")
            return self._refresh_step(state, target)
        state, fills = record_snapshot(state, target.id, self.lookup.with_trades(state, snap))
        self._report(state, fills)
        return self._save(self._settle(state, target.id))

    def _refresh(self, state: State) -> State:
        for step in state.steps:
            if step.status is StepStatus.PLACED:
                state = self._refresh_step(state, step)
        return state

    def _refresh_step(self, state: State, step: Step) -> State:
        state, fills, drift = refresh_step(self.lookup, state, step, self.plan.symbol,
                                           self.clock.now_ms())
        self._report(state, fills)
        for record in drift:
            self._drift(record)
        return self._save(self._settle(self._with_pnl(state), step.id))

    def _settle(self, state: State, step_id: str) -> State:
        step = state.step(step_id)
        assert step is not None
        final, reason = outcome(step, state)
        if not final or step.status.is_final:
            return state
        status = StepStatus.FAILED if reason else StepStatus.DONE
        return self._finish(state, step, status, reason, save=False)

    def _finish(self, state: State, step: Step, status: StepStatus, reason: str | None, *,
                save: bool = True) -> State:
        step = dataclasses.replace(step, status=status, finished_ms=self.clock.now_ms(),
                                   last_error=reason or step.last_error)
        state = state.with_step(step)
        if reason:
            self.hooks.note(f"{step.id}: {reason}")
        self.hooks.step_done(step)
        return self._save(state) if save else state

    def _wait(self, state: State) -> None:
        self.hooks.waiting(self._status(state))
        if self.tick is not None:
            self.tick()
        self.clock.sleep(self.poll_interval_s)

    def _status(self, state: State) -> dict[str, Any]:
        last = self.lookup.read(self.exchange.last_price, self.plan.symbol)
        targets = [{"step": s.id, "client_order_id": r.client_order_id, "type": r.type,
                    "price": price, "distance": price - last,
                    "distance_pct": (price - last) / last * 100 if last else None}
                   for s in state.steps if s.status is StepStatus.PLACED
                   for cid in s.leg_ids() if (r := state.order(cid)) is not None
                   and not OrderStatus(r.status).is_final
                   for price in [r.stop_price if r.stop_price > 0 else r.price] if price > 0]
        entry_side = self.plan.side.upper()
        filled = sum((f.qty for f in state.fills if f.side == entry_side), ZERO)
        return {"last_price": last, "targets": targets, "filled": filled,
                "elapsed_s": (self.clock.now_ms() - self.started_ms) / 1000,
                "waiting_for": [s.id for s in state.steps if not s.status.is_final]}

    # -- bookkeeping --------------------------------------------------------------------------

    def _with_pnl(self, state: State) -> State:
        pnl = realised_pnl(state, self.plan.side.upper(), self.market)
        return dataclasses.replace(state, realised_pnl=pnl)

    def _report(self, state: State, fills: tuple[FillRecord, ...]) -> None:
        for fill in fills:
            owner = next((s for s in state.steps if fill.client_order_id in s.leg_ids()), None)
            if owner is not None:
                self.hooks.fill(owner, fill)

    def _save(self, state: State) -> State:
        return self.store.save(state)
