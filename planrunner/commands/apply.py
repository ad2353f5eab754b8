"""The apply workflow: plan file or saved plan -> locked state -> compile -> diff -> confirm ->
engine -> summary. Owns the refusals that protect a trader (stale saved plans, edited plans,
a second apply on the same state) and says what to do next in each.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Protocol

from planrunner.actions import ActionKind, ActionPlan
from planrunner.errors import PlanrunnerError, StalePlan, StateError
from planrunner.plan.model import EntryType, TradePlan
from planrunner.state import State, StateStore, default_state_path, new_state

PAPER_POLL_S = 0.05  # wall seconds between polls on paper; market time runs at --speed
LIVE_POLL_S = 2.0
POLL_ENV = "PLANRUNNER_POLL_INTERVAL"  # seconds; for rehearsals against the simulator and tests


def poll_interval(live: bool) -> float:
    import os
    text = os.environ.get(POLL_ENV, "").strip()
    if text:
        try:
            value = float(text)  # not money
        except ValueError:
            raise PlanrunnerError(f"{POLL_ENV} must be a number of seconds, not {text!r}") from None
        if value >= 0:
            return value
        raise PlanrunnerError(f"{POLL_ENV} must be >= 0, not {text!r}")
    return LIVE_POLL_S if live else PAPER_POLL_S


class Console(Protocol):
    def out(self, text: str) -> None: ...

    def err(self, text: str) -> None: ...

    def confirm(self, prompt: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class ApplyOptions:
    target: str  # a plan file, or a saved plan from `plan --out`
    state_path: str | None = None
    yes: bool = False
    follow: bool = False
    json_events: bool = False
    speed: Decimal | None = None  # paper: market seconds per wall second
    interactive: bool = False  # a person is at a terminal to answer the prompt
    color: bool = False


@dataclass(frozen=True, slots=True)
class Target:
    plan_path: str
    saved: Any | None  # SavedPlan


def resolve_target(target: str) -> Target:
    """A saved plan is JSON (from `plan --out`); anything else is a plan file."""
    if target.lower().endswith(".json"):
        from planrunner.savedplan import load_saved_plan
        saved = load_saved_plan(target)
        return Target(plan_path=saved.plan_path, saved=saved)
    return Target(plan_path=target, saved=None)


def state_store_for(plan_path: str, state_path: str | None) -> StateStore:
    path = Path(state_path) if state_path else default_state_path(plan_path)
    if state_path and not path.parent.is_dir():  # else the lock file fails with a traceback
        raise StateError(f"the folder {path.parent} for the state file {path} does not exist; "
                         "create it, or give --state a path in an existing folder")
    return StateStore(path)


def remaining(action_plan: ActionPlan, state: State | None) -> ActionPlan:
    """The part of the plan the state has not finished: what apply will still do."""
    if state is None:
        return action_plan
    done = frozenset(s.id for s in state.steps if s.status.value != "pending")
    return dataclasses.replace(action_plan, done=done)


def _no_changes(options: ApplyOptions, console: Console, make_hooks: Callable[[], Any],
                state: State, plan: TradePlan) -> None:
    text = f"No changes. Plan {plan.name} is complete. {realised_line(state, _quote(plan))}"
    if not options.json_events:
        console.out(text)
        return
    hooks = make_hooks()  # --format json keeps stdout one JSON object per line
    hooks.note(text)
    hooks.plan_complete(state)


def check_saved(saved: Any, action_plan: ActionPlan, state: State | None) -> None:
    """Terraform's rule: a saved plan applies only to the state it was made against."""
    check_saved_state(saved, state)
    if saved.fingerprint != action_plan.fingerprint or saved.namespace != action_plan.namespace:
        raise StalePlan("the plan file changed since the plan was saved; review it again with "
                        "`planrunner plan PLAN --out FILE`")
    if _requests(saved.payload) != _requests(_json(action_plan)):
        raise StalePlan("the orders this plan would place today differ from the saved plan "
                        "(market rules or prices moved); review them again with `planrunner "
                        "plan PLAN --out FILE`")


def check_saved_state(saved: Any, state: State | None) -> None:
    """The state part of the rule, checked before anything else (a finished plan too)."""
    lineage = state.lineage if state else None
    serial = state.serial if state else None
    if saved.state_lineage != lineage:
        raise StalePlan("the saved plan was made against a different state file (or none); "
                        "make a new one with `planrunner plan PLAN --out FILE`")
    if saved.state_serial != serial:
        raise StalePlan(f"the saved plan is stale: the state moved on since it was saved (serial "
                        f"{saved.state_serial} -> {serial}); make a new one with `planrunner plan "
                        f"PLAN --out FILE`")


def _json(action_plan: ActionPlan) -> dict[str, Any]:
    from planrunner.render import render_json
    return render_json(action_plan)


def _requests(payload: dict[str, Any]) -> list[Any]:
    """The concrete parts of every request: what would reach the exchange for sure."""
    return [(a.get("endpoint"), [p for p in a.get("params", []) if not isinstance(p[1], dict)])
            for a in payload.get("actions", [])]


def refuse_edited(state: State, plan: TradePlan, fingerprint: str, path: Path) -> State:
    """An edited plan: start over if nothing was sent yet, else refuse (re-apply rules come
    later; carrying out an edit half-way could leave a position unprotected).

    Starting over keeps the lineage (so the namespace) and the serial: the store refuses to
    overwrite a file with another lineage or an older serial, and no order used the namespace."""
    if state.plan_fingerprint == fingerprint:
        return state
    if not state.has_exchange_activity:
        return dataclasses.replace(state, plan_fingerprint=fingerprint, plan_name=plan.name,
                                   exchange=plan.exchange, symbol=plan.symbol, steps=(),
                                   orders=(), fills=(), realised_pnl=None)
    raise StateError(
        f"plan '{plan.name}' changed since it was applied (state {path}, serial {state.serial}). "
        f"Applying an edited plan is not supported yet: nothing was sent. Restore the plan as it "
        f"was to continue, or run `planrunner cancel` on the old plan and move {path} away to "
        f"start the new version.")


def load_trade_plan(plan_path: str) -> TradePlan:
    from planrunner.plan import load_plan
    return load_plan(plan_path)


def run_apply(options: ApplyOptions, console: Console,
              make_hooks: Callable[[], Any]) -> int:
    from planrunner.compile import plan_fingerprint

    target = resolve_target(options.target)
    trade_plan = load_trade_plan(target.plan_path)
    store = state_store_for(target.plan_path, options.state_path)
    with store.lock("apply"):
        state = store.load(plan_name=trade_plan.name)
        if state is not None:
            state = refuse_edited(state, trade_plan, plan_fingerprint(trade_plan), store.path)
        if target.saved is not None:
            check_saved_state(target.saved, state)  # also when nothing is left to do
        if state is not None and state.steps and all(s.status.is_final for s in state.steps):
            return _recheck(options, console, make_hooks, target, trade_plan, store, state)
        return _apply_locked(options, console, make_hooks, target, trade_plan, store, state)


@dataclass(slots=True)
class _Run:
    """Everything an engine run needs, opened and compiled once."""

    exchange: Any
    tick: Any
    clock: Any
    market: Any
    action_plan: ActionPlan
    state: State


def _open_run(options: ApplyOptions, target: Target, trade_plan: TradePlan,
              state: State | None) -> _Run:
    from planrunner.clock import SystemClock
    from planrunner.compile import compile_plan, plan_fingerprint
    from planrunner.exchanges.factory import engine_clock, open_exchange

    wall = SystemClock()
    exchange, tick = open_exchange(trade_plan.exchange, clock=wall, speed=options.speed)
    fresh = state or new_state(plan_name=trade_plan.name,
                               plan_fingerprint=plan_fingerprint(trade_plan),
                               exchange=trade_plan.exchange, symbol=trade_plan.symbol,
                               lineage=_proposed_lineage(target))
    market = exchange.market_context(trade_plan.symbol)
    fresh, compile_market = _compile_market(fresh, market)
    fresh = _with_cost_basis(fresh, trade_plan)
    action_plan = compile_plan(trade_plan, compile_market, exchange.capabilities(),
                               fresh.namespace)
    return _Run(exchange, tick, engine_clock(exchange, wall), market, action_plan, fresh)


def _engine(run: _Run, store: StateStore, hooks: Any):
    from planrunner.compile import resolve_action
    from planrunner.engine import Engine
    return Engine(run.exchange, store, run.clock, resolve_action, hooks, tick=run.tick,
                  poll_interval_s=poll_interval(run.exchange.capabilities().live))


class _QuietUnlessActing:
    """Hooks for re-checking a finished plan: passive events are held back, and released (with
    everything after) only once the engine acts (a drift found, an order placed)."""

    ACTIONS = ("step_started", "order_placed", "fill", "step_done", "drift")

    def __init__(self, hooks: Any):
        self._hooks = hooks
        self._held: list[tuple[str, tuple[Any, ...]]] = []
        self.acted = False

    def __getattr__(self, name: str) -> Callable[..., None]:
        def call(*args: Any) -> None:
            if not self.acted and name in self.ACTIONS:
                self.acted = True
                for held, held_args in self._held:
                    getattr(self._hooks, held)(*held_args)
            if self.acted:
                getattr(self._hooks, name)(*args)
            else:
                self._held.append((name, args))
        return call


def _recheck(options: ApplyOptions, console: Console, make_hooks: Callable[[], Any],
             target: Target, trade_plan: TradePlan, store: StateStore, state: State) -> int:
    """A finished state is still reconciled and guarded before "No changes": a crash between
    recording drift and saving its repair leaves every step final with coins unprotected."""
    run = _open_run(options, target, trade_plan, state)
    hooks = _QuietUnlessActing(make_hooks())
    final = _engine(run, store, hooks).run(run.action_plan, run.state, follow=options.follow)
    if not hooks.acted:
        _no_changes(options, console, make_hooks, final, trade_plan)
        return 0
    if not options.json_events:
        console.out(summary(final, store.path, trade_plan, run.exchange.capabilities().live,
                            run.market.rules.quote_asset))
    return 1 if any(s.status.value == "failed" for s in final.steps) else 0


def _apply_locked(options: ApplyOptions, console: Console, make_hooks: Callable[[], Any],
                  target: Target, trade_plan: TradePlan, store: StateStore,
                  state: State | None) -> int:
    from planrunner.render import has_changes, render_text

    run = _open_run(options, target, trade_plan, state)
    if target.saved is not None:
        check_saved(target.saved, run.action_plan, state)
    todo = remaining(run.action_plan, state)
    if not options.json_events:
        console.out(render_text(todo, color=options.color).rstrip("\n"))
    if not _confirmed(options, console, target, has_changes(todo) or state is not None):
        console.err("Apply cancelled; nothing was sent.")
        return 1
    final = _engine(run, store, make_hooks()).run(run.action_plan, run.state,
                                                  follow=options.follow)
    if not options.json_events:
        console.out(summary(final, store.path, trade_plan, run.exchange.capabilities().live,
                            run.market.rules.quote_asset))
    return 1 if any(s.status.value == "failed" for s in final.steps) else 0


def _compile_market(state: State, market: Any) -> tuple[State, Any]:
    """A resumed plan is compiled against the price it was first compiled against, so orders
    already sent are not re-judged against today's market (which may have filled them); what is
    still to send is judged when it is sent (resolve_action, the protection policy)."""
    if state.compiled_price is None or not state.has_exchange_activity:
        return dataclasses.replace(state, compiled_price=market.last_price), market
    return state, dataclasses.replace(market, last_price=state.compiled_price)


def _with_cost_basis(state: State, plan: TradePlan) -> State:
    """entry: none protects coins bought elsewhere: their cost_basis is recorded as the entry
    reference for realised P&L when the plan is first applied (or on a state from before)."""
    basis = plan.entry.cost_basis if plan.entry.type is EntryType.NONE else None
    if state.has_exchange_activity and state.cost_basis is not None:
        return state
    return state if state.cost_basis == basis else dataclasses.replace(state, cost_basis=basis)


def _proposed_lineage(target: Target) -> str | None:
    """A saved plan made before any state existed fixes the new state's lineage (and so the
    client ids it showed)."""
    if target.saved is None or target.saved.state_lineage is not None:
        return None
    return target.saved.proposed_lineage


def _confirmed(options: ApplyOptions, console: Console, target: Target, changes: bool) -> bool:
    if options.yes or target.saved is not None or not changes:
        return True
    if not options.interactive or options.json_events:
        # --format json shows no diff and keeps stdout pure JSON, so it never prompts
        where = "--format json never prompts" if options.interactive else "no terminal to ask on"
        raise PlanrunnerError(f"refusing to apply without confirmation: {where}. Review with "
                              "`planrunner plan`, then add --yes (or apply a plan saved with "
                              "`plan --out FILE`).")
    return console.confirm("Do you want to perform these actions? Only 'yes' will be accepted")


def realised_line(state: State, quote: str | None) -> str:
    from planrunner.render import money
    if state.realised_pnl is None:
        return "No position was closed through planrunner."
    unit = f" {quote}" if quote else ""
    sign = "+" if state.realised_pnl >= 0 else "-"
    return f"Realised P&L: {sign}{money(state.realised_pnl)}{unit} (net of commissions)."


def _quote(plan: TradePlan) -> str | None:
    from planrunner.exchanges.rules import builtin_rules
    rules = builtin_rules().get(plan.symbol)
    return rules.quote_asset if rules else None


def summary(state: State, path: Path, plan: TradePlan, live: bool, quote: str) -> str:
    counts: dict[str, int] = {}
    for step in state.steps:
        counts[step.status.value] = counts.get(step.status.value, 0) + 1
    steps = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    lines = [f"Apply finished for {plan.name}: steps {steps}.", realised_line(state, quote),
             f"State saved in {path} (serial {state.serial})."]
    failed = [s for s in state.steps if s.status.value == "failed"]
    lines += [f"  {s.id} failed: {s.last_error}" for s in failed]
    if not all(s.status.is_final for s in state.steps):
        lines.append("Orders left open are enforced by the exchange. Follow them with "
                     "`planrunner status` or `planrunner apply --follow`." if live else
                     "Stopped before the plan ended; run apply again to resume.")
    return "\n".join(lines)


PLACING_KINDS = (ActionKind.PLACE_ORDER.value, ActionKind.PLACE_ORDER_LIST.value)
