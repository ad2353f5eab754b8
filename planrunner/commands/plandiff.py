"""What an edited plan would change against what the state says was applied: Terraform-style
lines, `+` new step, `-` step gone, `~` step whose request changed (with the changed values)."""

from __future__ import annotations

from typing import Any


def _param_changes(old: tuple[tuple[str, str], ...], new: tuple[tuple[str, str], ...]) -> str:
    before, after = dict(old), dict(new)
    keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
    return ", ".join(f"{k} {before.get(k, '(none)')} -> {after.get(k, '(none)')}" for k in keys)


def _new_params(action: Any) -> tuple[tuple[str, str], ...] | None:
    request = action.request
    if request is None or not request.is_concrete:
        return None
    return request.concrete().params


def changes_since(state: Any, action_plan: Any) -> list[str]:
    lines = []
    new_ids = {a.id for a in action_plan.actions}
    for step in state.steps:
        if step.id not in new_ids:
            sent = " (already sent: cancel it to remove it)" if step.status.value != "pending" else ""
            lines.append(f"  - {step.id}{sent}")
    for action in action_plan.actions:
        step = state.step(action.id)
        if step is None:
            lines.append(f"  + {action.id}")
            continue
        params = _new_params(action)
        if step.request and params is not None and params != step.request:
            lines.append(f"  ~ {action.id}: {_param_changes(step.request, params)}")
    return lines
