"""The engine's side of protection: carrying out guard.py's decisions (partial-fill cancels,
re-placed protection, market exits, stops) with the same persist-first discipline as every other
placement, and reporting drift through the hooks. Mixed into Engine; the decisions stay pure in
guard.py."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from planrunner import guard
from planrunner.actions import Action
from planrunner.compile import resolve_values
from planrunner.errors import CompileError, PlanrunnerError
from planrunner.exchanges.base import MarketContext
from planrunner.protect import exit_legs
from planrunner.reconcile import entry_fill
from planrunner.state import DriftRecord, LegIds, State, Step, StepStatus


class Protection:
    """Engine methods for guard decisions; expects the Engine's attributes (plan, lookup, ...)."""

    # the Engine provides these
    plan: Any
    lookup: Any
    exchange: Any
    hooks: Any
    clock: Any
    market: MarketContext
    guarding: bool

    def _save(self, state: State) -> State: ...  # pragma: no cover - Engine's

    def _cancel_target(self, state: State, target: Step) -> State: ...  # pragma: no cover

    def _entry_step(self, state: State, action: Action) -> Step: ...  # pragma: no cover

    def _guard(self, state: State, *, leaving: bool) -> tuple[State, bool]:
        if not self.guarding:
            return state, False
        decision = guard.decide(self._situation(state, leaving))
        if decision is None:
            return state, False
        record = decision.record
        if decision.move is guard.Move.STOP:
            if record not in state.drift:
                state = self._save(state.with_drift(record))
                self.hooks.note(f"STOPPED {record.step}: {record.change}; {record.action}")
            raise PlanrunnerError(f"{record.step}: {record.change}; {record.action}")
        state = state.with_drift(record)
        self.hooks.note(f"PROTECTION {record.step}: {record.change}; {record.action}")
        if decision.move is guard.Move.CANCEL:
            target = state.step(decision.step_id or "")
            assert target is not None
            return self._cancel_target(state, target), True
        if decision.action is not None:
            state = self._intend(state, decision.action)
        return self._save(state), True

    def _intend(self, state: State, action: Action) -> State:
        """Add a follow-up action; its step is saved as sending with its exact request."""
        self.plan = dataclasses.replace(self.plan, actions=self.plan.actions + (action,))
        assert action.request is not None
        request = action.request.concrete()
        return state.with_step(Step(
            id=action.id, kind=action.kind.value, status=StepStatus.SENDING,
            client_id=action.client_id, endpoint=request.endpoint, request=request.params,
            sent_ms=self.clock.now_ms(),
            legs=tuple(LegIds(leg.role.value, leg.client_order_id) for leg in action.legs)))

    def _situation(self, state: State, leaving: bool) -> guard.Situation:
        def market() -> MarketContext:
            return self.lookup.read(self.exchange.market_context, self.plan.symbol)

        def balances() -> dict[str, Any] | None:
            free = {b.asset: b.free for b in self.lookup.read(self.exchange.balances)}
            return free or None  # an exchange that reports none cannot be checked

        return guard.Situation(state, self.plan, functools.cache(market),
                               functools.cache(balances), self.clock.now_ms(), leaving,
                               self._exit_legs)

    def _exit_legs(self, state: State, step: Step) -> tuple[Any, ...]:
        """Exit legs of a step; resolved from the fill when it failed before it was sent."""
        if step.request:
            return exit_legs(step)
        action = self.plan.action(step.id)
        try:
            if action.after_fill:
                fill = entry_fill(state, self._entry_step(state, action), self.market)
                action = resolve_values(action, fill, self.market)
        except CompileError:
            return ()
        return tuple(leg for leg in action.legs if leg.role.value != "entry")

    def _drift(self, record: DriftRecord) -> None:
        report = getattr(self.hooks, "drift", None)
        if report is not None:
            report(record)
        else:
            self.hooks.note(f"changed outside planrunner: {record.change}")

