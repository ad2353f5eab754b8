"""`planrunner cancel PLAN [--close]`: cancel the plan's open orders, and optionally exit the
position at market. The close order goes through the engine, so it is placed exactly once like
every other order (intent persisted first, unknown outcomes settled by client id)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from planrunner.actions import (Action, ActionKind, ActionPlan, Leg, LegRole, RequestTemplate)
from planrunner.errors import OrderNotFound, PlanrunnerError
from planrunner.exchanges.base import Exchange, MarketContext
from planrunner.money import floor_to, fmt
from planrunner.state import State, StateStore, Step, StepStatus

CANCELLED = "cancelled by `planrunner cancel`"
LIST_KIND = ActionKind.PLACE_ORDER_LIST.value
ORDER_KIND = ActionKind.PLACE_ORDER.value


def cancel_step(exchange: Exchange, symbol: str, step: Step) -> None:
    """Cancel whatever of this step is still open on the exchange; gone already is fine."""
    if step.client_id is None:
        return
    try:
        if step.kind == LIST_KIND:
            exchange.cancel_order_list(symbol, step.client_id)
        elif step.kind == ORDER_KIND:
            exchange.cancel_order(symbol, step.client_id)
    except OrderNotFound:
        pass


def cancel_open_steps(state: State, exchange: Exchange, symbol: str,
                      refresh) -> tuple[State, list[str]]:
    """Cancel every step that may have orders open; mark every unfinished step skipped."""
    touched = []
    for step in state.steps:
        if step.status.is_final:
            continue
        if step.status in (StepStatus.SENDING, StepStatus.PLACED, StepStatus.WAITING):
            cancel_step(exchange, symbol, step)
            state = refresh(state, step)
            touched.append(step.id)
        current = state.step(step.id)
        assert current is not None
        if not current.status.is_final:
            state = state.with_step(dataclasses.replace(current, status=StepStatus.SKIPPED,
                                                        last_error=CANCELLED))
    return state, touched


def close_action(symbol: str, qty: Decimal, exit_side: str, client_id: str) -> Action:
    request = RequestTemplate("POST", "/api/v3/order", (
        ("symbol", symbol), ("side", exit_side), ("type", "MARKET"),
        ("quantity", fmt(qty)), ("newClientOrderId", client_id), ("newOrderRespType", "FULL")))
    leg = Leg(role=LegRole.CLOSE, client_order_id=client_id, side=exit_side, type="MARKET",
              quantity=qty)
    return Action(id="close", kind=ActionKind.PLACE_ORDER,
                  summary=f"close the position: MARKET {exit_side} {fmt(qty)}",
                  request=request, client_id=client_id, legs=(leg,))


def close_quantity(open_qty: Decimal, market: MarketContext) -> Decimal:
    qty = floor_to(open_qty, market.rules.effective_market_step)
    if qty <= 0 or qty < market.rules.effective_market_min_qty:
        raise PlanrunnerError(f"the open position {fmt(open_qty)} {market.rules.base_asset} is "
                              f"below the market order minimum; nothing to close at market")
    return qty


def checked_store(store: StateStore, plan_name: str) -> State:
    state = store.load(plan_name=plan_name)
    if state is None:
        raise PlanrunnerError(f"no state file at {store.path}: the plan was never applied, so "
                              "planrunner placed no orders to cancel")
    return state


def refuse_edited_close(state: State, trade_plan, store: StateStore) -> None:
    """--close takes the side from the plan file: an edited file (its side may have flipped)
    could close the wrong way, so it is refused before anything is cancelled."""
    from planrunner.compile import plan_fingerprint
    if state.plan_fingerprint != plan_fingerprint(trade_plan):
        raise PlanrunnerError(
            f"plan '{trade_plan.name}' changed since it was applied (state {store.path}); "
            "--close needs the plan as it was applied. Restore it, or run `planrunner cancel` "
            "without --close and exit the position yourself.")


def run_cancel(plan_path: str, state_path: str | None, close: bool, console,
               make_hooks) -> int:
    from planrunner.clock import SystemClock
    from planrunner.commands.apply import load_trade_plan, state_store_for
    from planrunner.exchanges.factory import open_exchange
    from planrunner.reconcile import Lookup, RetryPolicy, record_snapshot

    trade_plan = load_trade_plan(plan_path)
    store = state_store_for(plan_path, state_path)
    clock = SystemClock()
    with store.lock("cancel"):
        state = checked_store(store, trade_plan.name)
        if close:
            refuse_edited_close(state, trade_plan, store)
        exchange, _ = open_exchange(state.exchange, clock=clock)
        lookup = Lookup(exchange, clock, RetryPolicy(), console.err)

        def refresh(current: State, step: Step) -> State:
            snaps = lookup.refresh_legs(step, current, state.symbol)
            return (record_snapshot(current, step.id, lookup.with_trades(current, snaps))[0]
                    if snaps else current)

        state, touched = cancel_open_steps(state, exchange, state.symbol, refresh)
        state = store.save(state)
        console.out(f"Cancelled the open orders of steps: {', '.join(touched)}." if touched
                    else "No open orders to cancel.")
        if not close:
            return 0
        return _close(trade_plan, state, store, exchange, clock, console, make_hooks)


def _close(trade_plan, state: State, store: StateStore, exchange: Exchange, clock, console,
           make_hooks) -> int:
    from planrunner.actions import RiskSummary, Strategy
    from planrunner.commands.apply import realised_line
    from planrunner.compile import client_order_id, resolve_action
    from planrunner.engine import Engine
    from planrunner.position import position

    market = exchange.market_context(state.symbol)
    entry_side = trade_plan.side.wire
    open_qty = position(state, entry_side, market).open_qty
    already = state.step("close")
    if open_qty <= 0 or (already is not None and already.status is StepStatus.DONE):
        # a second `cancel --close` (or a plan that never entered) has nothing to close: say
        # so and succeed, instead of the "below the market order minimum" error for 0
        what = (f"the close order {already.client_id} already filled" if already is not None
                and already.status is StepStatus.DONE else "the plan holds no position")
        console.out(f"Nothing to close: {what}. {realised_line(state, market.rules.quote_asset)}")
        return 0
    qty = close_quantity(open_qty, market)
    exit_side = trade_plan.side.exit_side.wire
    action = close_action(state.symbol, qty, exit_side,
                          client_order_id(trade_plan.name, state.namespace, "close"))
    close_action_plan = ActionPlan(
        plan_name=state.plan_name, exchange=state.exchange, symbol=state.symbol,
        side=trade_plan.side.value, strategy=Strategy.ORDER_NOW,
        strategy_reason="close the position at market (planrunner cancel --close)",
        actions=(action,), risk=RiskSummary(market.rules.quote_asset, None, None, None, None, None),
        fingerprint=state.plan_fingerprint, namespace=state.namespace,
        last_price=market.last_price)
    engine = Engine(exchange, store, clock, resolve_action, make_hooks())
    final = engine.run(close_action_plan, state, follow=False)
    step = final.step("close")
    console.out(f"Close: {step.status.value if step else 'not placed'}. "
                f"{realised_line(final, market.rules.quote_asset)}")
    return 0 if step is not None and step.status is StepStatus.DONE else 1
