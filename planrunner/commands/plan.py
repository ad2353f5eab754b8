"""The `plan` workflow (also `apply --dry-run`): load, reconcile the existing state in memory,
compile, show what is left to do and what changed, optionally save or verify. Writes nothing
but the saved plan it is asked for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planrunner.errors import PlanError, PlanrunnerError


@dataclass(frozen=True, slots=True)
class PlanOptions:
    plan_path: str
    output_format: str = "text"
    out: str | None = None
    detailed_exitcode: bool = False
    verify: bool = False
    color: bool = False
    state_path: str | None = None


def default_state_path(plan_path: str) -> Path:
    """Same rule as state.default_state_path (a test keeps them equal), without importing the
    state module: that import costs ~50 ms, and most plan runs have no state file."""
    plan = Path(plan_path)
    stem = plan.stem if plan.suffix.lower() in (".yaml", ".yml") else plan.name
    return plan.with_name(f"{stem}.state.json")


def plan_of(plan_path: str | None) -> Any:
    """The TradePlan at plan_path, or None when there is none or it does not load (a state is
    then shown for what it is)."""
    if not plan_path or plan_path.endswith(".state.json"):
        return None
    from planrunner.plan import check_file
    return check_file(plan_path)[0]


def plan_name_of(plan_path: str | None) -> str | None:
    """The plan's name, so a state file of another plan is refused; None if it does not load."""
    trade_plan = plan_of(plan_path)
    return trade_plan.name if trade_plan is not None else None


def existing_state(plan_path: str, state_path: str | None, console) -> Any:
    """The plan's state file, read without the lock (saves are atomic renames), if it exists.
    Its namespace keeps the client ids the same as apply's."""
    path = Path(state_path) if state_path else default_state_path(plan_path)
    if not path.is_file():
        return None
    from planrunner.state import StateStore
    state = StateStore(path).load(plan_name=plan_name_of(plan_path))
    if state is not None:
        console.err(f"Note: client ids use namespace {state.namespace} from {path} (serial "
                    f"{state.serial}).")
    return state


def run_plan(options: PlanOptions, console, state: Any = None) -> int:
    """Returns the exit code; every user mistake is a message, never a traceback."""
    fresh = state is None
    namespace, proposed = _namespace(state, options.out)
    try:
        action_plan, trade_plan = compile_plan_file(options.plan_path, namespace, console)
        if state is not None:
            state = _refreshed(state, console)
            _report_changes(state, action_plan, console)
        if options.out:
            from planrunner.savedplan import save_plan
            # absolute: `apply FILE` must find the plan from any folder
            save_plan(options.out, action_plan, plan_path=os.path.abspath(options.plan_path),
                      state_lineage=state.lineage if state else None,
                      state_serial=state.serial if state else None, proposed_lineage=proposed)
    except PlanError as exc:
        for diagnostic in exc.diagnostics:
            console.err(diagnostic.render())
        return 1
    except PlanrunnerError as exc:
        console.err(f"Error: {exc}")
        return 1
    from planrunner.commands.apply import remaining
    todo = remaining(action_plan, state)
    show_plan(todo, options, console, _note(action_plan, options.out, fresh))
    if options.verify and not verified(action_plan, console):
        return 1
    if options.detailed_exitcode:
        from planrunner.render import has_changes
        return 2 if has_changes(todo) else 0
    return 0


def _namespace(state: Any, out: str | None) -> tuple[str, str | None]:
    if state is not None:
        return state.namespace, None
    if out:  # the first apply of this saved plan creates the state with this lineage
        import uuid

        from planrunner.state import namespace_for
        proposed = str(uuid.uuid4())
        return namespace_for(proposed), proposed
    import base64  # os.urandom, not secrets: the latter drags in hmac and costs ~3 ms per run
    return base64.b32encode(os.urandom(5)).decode("ascii")[:6].lower(), None


def compile_plan_file(plan_path: str, namespace: str, console) -> tuple[Any, Any]:
    from planrunner.compile import compile_plan
    from planrunner.exchanges.factory import open_capabilities, read_market_context
    from planrunner.plan import check_file

    trade_plan, diagnostics = check_file(plan_path)
    if trade_plan is None:
        raise PlanError(diagnostics)
    for diagnostic in diagnostics:  # warnings only: the plan is valid
        console.err(diagnostic.render())
    market = read_market_context(trade_plan.exchange, trade_plan.symbol)
    action_plan = compile_plan(trade_plan, market, open_capabilities(trade_plan.exchange),
                               namespace)
    return action_plan, trade_plan


def _refreshed(state: Any, console) -> Any:
    """Reconcile in memory (Terraform's refresh): what the exchange did while planrunner was
    away. Never saved here; a venue that cannot be read leaves the listing as the state says."""
    if not state.has_exchange_activity:
        return state
    from planrunner.clock import SystemClock
    from planrunner.drift import refresh_state
    from planrunner.exchanges.factory import open_exchange
    from planrunner.exchanges.paper.store import default_account_path
    if state.exchange == "paper" and not default_account_path().is_file():
        console.err("Note: the paper account this state was applied on is not here; showing the "
                    "state as it was saved.")
        return state
    exchange, _ = open_exchange(state.exchange, clock=SystemClock())
    state, _ = refresh_state(state, exchange, clock=SystemClock())
    from planrunner.commands.status import drift_lines
    for line in drift_lines(state):
        console.err(line)
    return state


def _report_changes(state: Any, action_plan: Any, console) -> None:
    from planrunner.commands.plandiff import changes_since
    if state.plan_fingerprint == action_plan.fingerprint:
        return
    lines = changes_since(state, action_plan)
    console.err(f"The plan file changed since it was applied (state serial {state.serial}):")
    for line in lines or ["  (same orders; only settings that place nothing changed)"]:
        console.err(line)
    if state.has_exchange_activity:
        console.err("apply refuses an edited plan once orders were sent; restore the plan to "
                    "continue, or cancel it and start the new version with a new state file.")


def show_plan(action_plan: Any, options: PlanOptions, console, note: str) -> None:
    if options.output_format == "json":
        import json

        from planrunner.render import render_json
        console.out(json.dumps(render_json(action_plan), sort_keys=True, indent=2))
        if note:
            console.err(note)  # stdout stays pure JSON
        return
    from planrunner.render import render_text
    console.out(render_text(action_plan, color=options.color).rstrip("\n"))
    if note:
        console.out(f"\n{note}")


def verified(action_plan: Any, console) -> bool:
    """`plan --verify`; the verdicts go to stderr (stdout may be JSON)."""
    from planrunner.commands.verify import render, verify_on
    try:
        checks = verify_on(action_plan)
    except PlanrunnerError as exc:
        console.err(f"Error: verify failed: {exc}")
        return False
    console.err(render(checks, action_plan.exchange))
    return all(c.error is None for c in checks)


def _note(action_plan: Any, out: str | None, fresh: bool) -> str:
    if out:
        return (f"Saved this plan to {out}: `planrunner apply {out}` places exactly these orders "
                f"with these client ids (namespace {action_plan.namespace}).")
    if fresh:
        return (f"Note: client ids use namespace {action_plan.namespace}, picked for this run "
                "only; they are fixed at the first apply (or now, with --out FILE).")
    return ""
