"""`planrunner status`: what a plan's state file says, with position and P&L at the current
price. Reads the state without the lock (saves are atomic renames), never writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from planrunner.errors import PlanrunnerError
from planrunner.money import fmt
from planrunner.position import position, unrealised_pnl
from planrunner.state import State, StateStore, default_state_path


def find_states(root: Path) -> list[Path]:
    """State files under `root` (plans live in a few folders; .venv and dot-folders skipped)."""
    return sorted(p for p in root.rglob("*.state.json")
                  if not any(part.startswith(".") for part in p.relative_to(root).parts[:-1]))


def load_state(plan_or_state: str, state_path: str | None, *,
               plan_name: str | None = None) -> tuple[State, Path]:
    """The state of a plan; one made for another plan name is refused (StateCorrupt)."""
    path = Path(state_path) if state_path else (
        Path(plan_or_state) if plan_or_state.endswith(".state.json")
        else default_state_path(plan_or_state))
    state = StateStore(path).load(plan_name=plan_name)
    if state is None:
        raise PlanrunnerError(f"no state file at {path}: the plan was never applied (or use "
                              f"--state to point at its state file)")
    return state, path


def _market(state: State):
    from planrunner.exchanges.factory import read_market_context
    try:
        return read_market_context(state.exchange, state.symbol)
    except PlanrunnerError:
        return None  # status still shows what the state knows


def report(state: State, path: Path, entry_side: str) -> dict[str, Any]:
    market = _market(state)
    doc: dict[str, Any] = {
        "plan": state.plan_name, "exchange": state.exchange, "symbol": state.symbol,
        "state_file": str(path), "serial": state.serial, "lineage": state.lineage,
        "complete": bool(state.steps) and all(s.status.is_final for s in state.steps),
        "steps": [{"id": s.id, "kind": s.kind, "status": s.status.value, "client_id": s.client_id,
                   "filled_qty": s.filled_qty, "avg_price": s.avg_price,
                   "fees": dict(s.fees), "last_error": s.last_error} for s in state.steps],
        "orders": [{"client_order_id": o.client_order_id, "order_id": o.order_id,
                    "side": o.side, "type": o.type, "status": o.status, "orig_qty": o.orig_qty,
                    "executed_qty": o.executed_qty, "price": o.price, "stop_price": o.stop_price}
                   for o in state.orders],
        "fills": len(state.fills), "realised_pnl": state.realised_pnl,
    }
    if market is not None:
        pos = position(state, entry_side, market)
        doc.update(quote_asset=market.rules.quote_asset, base_asset=market.rules.base_asset,
                   last_price=market.last_price, position=pos.open_qty, avg_entry=pos.avg_entry,
                   unrealised_pnl=unrealised_pnl(pos, entry_side, market.last_price))
    return doc


def entry_side_of(state: State) -> str:
    """The entry side, from the first order the plan placed (the state has no plan side)."""
    for step in state.steps:
        record = next((state.order(cid) for cid in step.leg_ids() if state.order(cid)), None)
        if record is not None:
            return record.side
    return "BUY"


def to_json(value: Any) -> Any:
    from decimal import Decimal
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def render(doc: dict[str, Any]) -> str:
    q = doc.get("quote_asset", "")
    lines = [f"Plan {doc['plan']} ({doc['exchange']}, {doc['symbol']}): "
             f"{'complete' if doc['complete'] else 'in progress'}; state {doc['state_file']} "
             f"(serial {doc['serial']})", "Steps:"]
    for s in doc["steps"]:
        filled = f"  filled {fmt(s['filled_qty'])}" if s["filled_qty"] else ""
        at = f" @ {fmt(s['avg_price'])}" if s["avg_price"] else ""
        why = f"  ({s['last_error']})" if s["last_error"] else ""
        lines.append(f"  {s['id']:<14} {s['status']:<8} {s['client_id'] or '':<32}{filled}{at}{why}")
    lines.append("Orders:")
    for o in doc["orders"]:
        lines.append(f"  {o['client_order_id']:<32} {o['type']:<16} {o['side']:<4} {o['status']:<16}"
                     f" {fmt(o['executed_qty'])}/{fmt(o['orig_qty'])}")
    lines.append(f"Fills: {doc['fills']}")
    if "position" in doc:
        avg = f" (average entry {fmt(doc['avg_entry'])})" if doc["avg_entry"] else ""
        lines.append(f"Position: {fmt(doc['position'])} {doc['base_asset']}{avg}; last price "
                     f"{fmt(doc['last_price'])}")
    from planrunner.render import money
    for key, label in (("realised_pnl", "Realised P&L"), ("unrealised_pnl", "Unrealised P&L")):
        value = doc.get(key)
        if value is not None:
            lines.append(f"{label}: {'+' if value >= 0 else '-'}{money(value)} {q}".rstrip())
    return "\n".join(lines)


def status_all(root: Path) -> str:
    paths = find_states(root)
    if not paths:
        return f"No state files under {root}: nothing was applied here yet."
    lines = []
    for path in paths:
        try:
            state = StateStore(path).load()
        except PlanrunnerError as exc:
            lines.append(f"{path}: unreadable ({exc})")
            continue
        if state is None:
            continue
        done = sum(1 for s in state.steps if s.status.is_final)
        lines.append(f"{state.plan_name:<24} {state.exchange:<16} {state.symbol:<10} "
                     f"steps {done}/{len(state.steps)} final   {path}")
    return "\n".join(lines)


def refresh_status(plan_or_state: str, state_path: str | None, *, exchange: Any = None,
                   clock: Any = None, plan_name: str | None = None
                   ) -> tuple[State, Path, tuple[Any, ...]]:
    """`status --refresh`: bring the state up to date from the exchange (fills, cancels, expiries
    while away) under the state lock, save it, and return it with the drift found. Repairs are
    left to `apply`; this only looks and records."""
    from planrunner.clock import SystemClock
    from planrunner.drift import refresh_state
    from planrunner.exchanges.factory import open_exchange
    _, path = load_state(plan_or_state, state_path, plan_name=plan_name)
    store = StateStore(path)
    clock = clock or SystemClock()
    with store.lock("status --refresh"):
        state = store.load()
        if state is None:
            raise PlanrunnerError(f"no state file at {path}: the plan was never applied")
        venue = exchange if exchange is not None else open_exchange(state.exchange, clock=clock)[0]
        state, drift = refresh_state(state, venue, clock=clock)
        state = store.save(state)
    return state, path, drift


def drift_lines(state: State) -> list[str]:
    """Terraform-style lines for what changed outside planrunner and what planrunner did."""
    if not state.drift:
        return []
    lines = ["Changed outside planrunner (and what planrunner did):"]
    for record in state.drift:
        flag = "  ! " if record.unsafe else "  ~ "
        lines.append(f"{flag}{record.step}: {record.change} -> {record.action}")
    return lines


def status_document(plan_path: str | None, state_path: str | None, *,
                    refresh: bool) -> tuple[dict[str, Any], State]:
    """`status PLAN`: the report (with drift) of the plan's state; the plan file, read once,
    names the plan (another plan's state is refused) and its side."""
    from planrunner.commands.plan import plan_of
    trade_plan = plan_of(plan_path)
    name = trade_plan.name if trade_plan is not None else None
    target = plan_path or state_path
    if refresh:
        state, path, _ = refresh_status(target, state_path, plan_name=name)
    else:
        state, path = load_state(target, state_path, plan_name=name)
    side = trade_plan.side.wire if trade_plan is not None else entry_side_of(state)
    doc = report(state, path, side)
    doc["drift"] = [{"step": d.step, "client_order_id": d.client_order_id, "change": d.change,
                     "action": d.action, "unsafe": d.unsafe} for d in state.drift]
    return doc, state
