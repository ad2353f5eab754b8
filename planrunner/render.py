"""Render an ActionPlan for people (Terraform-style text) and for programs (stable JSON).

Pure: no I/O, no clock, no exchange. The JSON structure is documented in docs/plan-json.md;
`format_version` changes whenever a key is renamed or its meaning changes.

Text symbols: `+` an order to place, `-` an order to cancel, `<=` planrunner waits (for a fill).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from planrunner.actions import (Action, ActionKind, ActionPlan, Deferred, Leg, LegRole,
                                RiskSummary, Strategy)
from planrunner.money import fmt

JSON_FORMAT_VERSION = 1

_GREEN, _RED, _YELLOW, _CYAN, _BOLD = "32", "31", "33", "36", "1"
_PLACE_KINDS = (ActionKind.PLACE_ORDER, ActionKind.PLACE_ORDER_LIST)
_ROLE_NAMES = {LegRole.ENTRY: "entry", LegRole.TAKE_PROFIT: "take profit", LegRole.STOP: "stop"}
_ROLE_WIDTH = max(len(name) for name in _ROLE_NAMES.values())
_EMULATED = "needs planrunner running"
_PLANRUNNER_PLACES_EXITS = frozenset({Strategy.ENTRY_THEN_OCO, Strategy.ENTRY_THEN_ORDER})


# ---------------------------------------------------------------- counting (shared by both forms)

def orders_to_place(plan: ActionPlan) -> int:
    """Orders, not requests: every leg of an order list counts."""
    return sum(len(a.legs) or 1 for a in plan.pending_actions if a.kind in _PLACE_KINDS)


def orders_to_cancel(plan: ActionPlan) -> int:
    return sum(1 for a in plan.pending_actions if a.kind is ActionKind.CANCEL)


def has_changes(plan: ActionPlan) -> bool:
    return orders_to_place(plan) + orders_to_cancel(plan) > 0


def summary_line(plan: ActionPlan) -> str:
    placed = orders_to_place(plan)
    noun = "order" if placed == 1 else "orders"
    return f"Plan: {placed} {noun} to place, {orders_to_cancel(plan)} to cancel."


# ---------------------------------------------------------------- text

def render_text(plan: ActionPlan, *, color: bool) -> str:
    paint = _painter(color)
    lines = _header(plan, paint)
    base, quote = _assets(plan)
    for action in plan.pending_actions:
        lines.append("")
        lines.extend(_action_lines(action, plan, base, quote, paint))
    if plan.done:
        lines.extend(["", f"  (already done or sent, not shown: {', '.join(sorted(plan.done))})"])
    if not plan.pending_actions:
        lines.extend(["", "  (nothing to do)"])
    lines.extend(_emulated_lines(plan, paint))
    lines.extend(_warning_lines(plan, paint))
    lines.append("")
    lines.append(paint(summary_line(plan), _BOLD))
    lines.append(risk_line(plan.risk))
    return "\n".join(lines) + "\n"


def _painter(color: bool):
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color else text
    return paint


def _header(plan: ActionPlan, paint) -> list[str]:
    quote = plan.risk.quote_asset
    return [
        paint(f"planrunner plan: {plan.plan_name}", _BOLD),
        (f"  exchange {plan.exchange}, symbol {plan.symbol}, side {plan.side}, "
         f"last price {fmt(plan.last_price)} {quote}"),
        f"  fingerprint {plan.fingerprint[:12]}, client id namespace {plan.namespace}",
        "",
        paint(f"Strategy {plan.strategy}: {plan.strategy_reason}", _BOLD),
        paint(f"Protection: {protection(plan)}", _BOLD),
        "",
        "planrunner will perform these actions, in order (+ place, - cancel, <= wait):",
    ]


def protection(plan: ActionPlan) -> str:
    """Who arms the exits, said plainly: this decides whether planrunner may be stopped."""
    if not any(leg.role is LegRole.STOP for action in plan.actions for leg in action.legs):
        return "no stop: the loss is not limited by any order"
    if plan.strategy in _PLANRUNNER_PLACES_EXITS:
        return ("exits are placed by planrunner after the entry fills: keep planrunner running "
                "until then, the position is unprotected in between")
    return "exits armed by the exchange: protected even while planrunner is not running"


def _assets(plan: ActionPlan) -> tuple[str, str]:
    """The base asset is not in the ActionPlan; Binance symbols are base + quote."""
    quote = plan.risk.quote_asset
    if quote and plan.symbol.endswith(quote) and plan.symbol != quote:
        return plan.symbol[: -len(quote)], quote
    return "", quote


def _action_lines(action: Action, plan: ActionPlan, base: str, quote: str, paint) -> list[str]:
    lines = [f"  # {action.id}{_after(action)}"]
    if action.kind is ActionKind.PLACE_ORDER_LIST:
        lines.append(paint(f"  + {_list_line(action)}", _GREEN))
        lines.extend(paint(f"      + {_leg_line(leg, base, quote, padded=True)}", _GREEN)
                     for leg in action.legs)
    elif action.kind is ActionKind.PLACE_ORDER:
        lines.extend(paint(f"  + {_leg_line(leg, base, quote, padded=False)}", _GREEN)
                     for leg in action.legs)
        if not action.legs:
            lines.append(paint(f"  + {_request_line(action)}", _GREEN))
    elif action.kind is ActionKind.AWAIT_FILL:
        lines.append(paint(f"  <= {_await_line(action, plan)}", _CYAN))
    else:
        lines.append(paint(f"  - {_cancel_line(action, plan)}", _RED))
    return lines


def _after(action: Action) -> str:
    return f" (after {', '.join(action.depends_on)})" if action.depends_on else ""


def _marks(action: Action) -> str:
    return f" [{_EMULATED}]" if action.emulated else ""


def _list_type(action: Action) -> str:
    path = action.request.path if action.request else ""
    return path.rsplit("/", 1)[-1].upper() or "order list"


def _list_line(action: Action) -> str:
    return (f"order list {_list_type(action)}, list client id {action.client_id}"
            f"{_marks(action)}")


def _request_line(action: Action) -> str:
    endpoint = action.request.endpoint if action.request else "no request"
    return f"{endpoint}, client id {action.client_id}{_marks(action)}"


def _leg_line(leg: Leg, base: str, quote: str, *, padded: bool) -> str:
    role = _ROLE_NAMES.get(leg.role, str(leg.role))
    role = role.ljust(_ROLE_WIDTH) if padded else f"{role}:"
    parts = [f"{role} {leg.type} {leg.side} {_quantity(leg, base, quote)}{_limit(leg, quote)}"]
    parts.extend(_stop_parts(leg, quote))
    parts.append(f"client id {leg.client_order_id}")
    text = ", ".join(parts)
    return text + " [pending: armed when the entry fills]" if leg.pending else text


def _quantity(leg: Leg, base: str, quote: str) -> str:
    if leg.quantity is not None:
        return _amount(leg.quantity, base)
    if leg.quote_quantity is not None:
        return f"for {_amount(leg.quote_quantity, quote)} (quote quantity)"
    return "(the filled entry quantity)"


def _limit(leg: Leg, quote: str) -> str:
    """A plain limit price reads `@ price`; a stop order's price is its limit after the trigger."""
    if leg.price is None or _is_stop_order(leg):
        return ""
    return f" @ {_amount(leg.price, quote)}"


def _is_stop_order(leg: Leg) -> bool:
    return leg.stop_price is not None or leg.trailing_delta is not None


def _stop_parts(leg: Leg, quote: str) -> list[str]:
    parts = []
    if leg.stop_price is not None:
        parts.append(f"stop {_amount(leg.stop_price, quote)}")
    if leg.price is not None and _is_stop_order(leg):
        parts.append(f"limit {_amount(leg.price, quote)}")
    if leg.trailing_delta is not None:
        percent = fmt(Decimal(leg.trailing_delta) / 100)
        parts.append(f"trailing {leg.trailing_delta} BIPS ({percent}%)")
    if leg.time_in_force:
        parts.append(leg.time_in_force)
    return parts


def _amount(value: Decimal | Deferred, unit: str) -> str:
    unit = f" {unit}" if unit else ""
    if isinstance(value, Deferred):
        return f"~{fmt(value.estimate)}{unit} (after entry fill)"
    return f"{fmt(value)}{unit}"


def _target(action: Action, plan: ActionPlan) -> str:
    """Name the action an AWAIT_FILL or CANCEL concerns, with its client id when known."""
    if not action.wait_for:
        return "the entry"
    try:
        target = plan.action(action.wait_for)
    except KeyError:
        return action.wait_for
    return f"{target.id} ({_target_id(target)})" if _target_id(target) else target.id


def _target_id(target: Action) -> str:
    if target.kind is ActionKind.PLACE_ORDER_LIST and target.client_id:
        return f"list client id {target.client_id}"
    return f"client id {target.client_id}" if target.client_id else ""


def _await_line(action: Action, plan: ActionPlan) -> str:
    return f"wait until {_target(action, plan)} is filled{_marks(action)}"


def _cancel_line(action: Action, plan: ActionPlan) -> str:
    if action.delay_s is None:
        return f"cancel {_target(action, plan)}{_marks(action)}"
    return (f"cancel the unfilled part of {_target(action, plan)}, "
            f"{duration(action.delay_s)} after it is placed{_marks(action)}")


def duration(seconds: int) -> str:
    """Largest exact unit, as written in plans: 43200 -> 12h, 90 -> 90s."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _emulated_lines(plan: ActionPlan, paint) -> list[str]:
    emulated = [a.id for a in plan.pending_actions if a.emulated]
    if not emulated:
        return []
    text = (f"! Done by planrunner, not the exchange, so only while planrunner is running: "
            f"{', '.join(emulated)}")
    return ["", paint(text, _YELLOW)]


def _warning_lines(plan: ActionPlan, paint) -> list[str]:
    if not plan.warnings:
        return []
    return ["", paint("Warnings:", _YELLOW)] + [paint(f"  ! {w}", _YELLOW) for w in plan.warnings]


# ---------------------------------------------------------------- risk line

def risk_line(risk: RiskSummary) -> str:
    quote = risk.quote_asset
    worst = ("worst case unbounded (no stop)" if risk.worst_loss is None else
             f"worst case -{money(risk.worst_loss)} {quote}{_pct(risk.worst_loss_pct, '-')}")
    best = ("best case open (no take-profit)" if risk.best_gain is None else
            f"best case +{money(risk.best_gain)} {quote}{_pct(risk.best_gain_pct, '+')}")
    ratio = "n/a" if risk.reward_risk is None else _round(risk.reward_risk, Decimal("0.01"))
    estimated = " (estimated)" if risk.estimated else ""
    return f"Risk: {worst}, {best}, reward:risk {ratio}{estimated}"


def money(value: Decimal) -> str:
    """Two decimals from 0.1 up; below, four significant digits (BTC-quoted pairs) but never
    fewer than two decimals, so 0.05 USDT reads 0.05."""
    value = abs(value)
    if value >= Decimal("0.1") or value == 0:
        return _round(value, Decimal("0.01"))
    text = fmt(value.quantize(Decimal(1).scaleb(value.adjusted() - 3), rounding=ROUND_HALF_UP))
    decimals = len(text.partition(".")[2])
    return text + "0" * max(0, 2 - decimals)


def _pct(value: Decimal | None, sign: str) -> str:
    if value is None:
        return ""
    return f" ({sign}{fmt(abs(value).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP))}%)"


def _round(value: Decimal, step: Decimal) -> str:
    return format(value.quantize(step, rounding=ROUND_HALF_UP), "f")


# ---------------------------------------------------------------- JSON

def render_json(plan: ActionPlan) -> dict[str, Any]:
    """The documented machine form (docs/plan-json.md). Decimals are strings; no floats."""
    return {
        "format_version": JSON_FORMAT_VERSION,
        "plan": {"name": plan.plan_name, "exchange": plan.exchange, "symbol": plan.symbol,
                 "side": plan.side, "fingerprint": plan.fingerprint,
                 "namespace": plan.namespace, "last_price": fmt(plan.last_price)},
        "strategy": {"name": str(plan.strategy), "reason": plan.strategy_reason,
                     "protection": protection(plan)},
        "actions": [_action_json(a) for a in plan.pending_actions],
        "done": sorted(plan.done),
        "summary": {"to_place": orders_to_place(plan), "to_cancel": orders_to_cancel(plan)},
        "risk": _risk_json(plan.risk),
        "warnings": list(plan.warnings),
    }


def _value_json(value: Decimal | Deferred | str | None) -> Any:
    if value is None:
        return None
    if isinstance(value, Deferred):
        return {"after_entry_fill": True, "estimate": fmt(value.estimate)}
    if isinstance(value, Decimal):
        return fmt(value)
    return value


def _action_json(action: Action) -> dict[str, Any]:
    request = action.request
    return {
        "id": action.id, "kind": str(action.kind), "summary": action.summary,
        "endpoint": request.endpoint if request else None,
        "params": [[k, _value_json(v)] for k, v in request.params] if request else [],
        "client_id": action.client_id,
        "legs": [_leg_json(leg) for leg in action.legs],
        "depends_on": list(action.depends_on), "wait_for": action.wait_for,
        "after_fill": action.after_fill, "emulated": action.emulated, "delay_s": action.delay_s,
    }


def _leg_json(leg: Leg) -> dict[str, Any]:
    return {
        "role": str(leg.role), "client_order_id": leg.client_order_id, "side": leg.side,
        "type": leg.type, "quantity": _value_json(leg.quantity),
        "quote_quantity": _value_json(leg.quote_quantity), "price": _value_json(leg.price),
        "stop_price": _value_json(leg.stop_price), "trailing_delta": leg.trailing_delta,
        "time_in_force": leg.time_in_force, "pending": leg.pending,
    }


def _risk_json(risk: RiskSummary) -> dict[str, Any]:
    return {
        "quote_asset": risk.quote_asset, "worst_loss": _value_json(risk.worst_loss),
        "worst_loss_pct": _value_json(risk.worst_loss_pct),
        "best_gain": _value_json(risk.best_gain), "best_gain_pct": _value_json(risk.best_gain_pct),
        "reward_risk": _value_json(risk.reward_risk), "estimated": risk.estimated,
    }
