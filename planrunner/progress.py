"""Progress reporting for apply: EngineHooks implementations that print.

Three forms: a live status line on a terminal, plain progress lines otherwise, and one JSON
event per line (`apply --format json`). The engine never prints; these are its only voices.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TextIO

from planrunner.money import fmt
from planrunner.state import FillRecord, State, Step


def _money(value: Any) -> Any:
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, Mapping):
        return {k: _money(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_money(v) for v in value]
    return value


def describe_snapshot(snapshot: Any) -> str:
    orders = getattr(snapshot, "orders", None)
    if orders is not None:
        return (f"order list {snapshot.list_client_order_id} ({snapshot.contingency_type}, "
                f"{len(orders)} orders) {snapshot.list_order_status}")
    return (f"{snapshot.type} {snapshot.side} {fmt(snapshot.orig_qty)} "
            f"id {snapshot.client_order_id}: {snapshot.status}")


def status_line(status: Mapping[str, Any]) -> str:
    """One line: last price, distance to every live target and stop, filled, elapsed."""
    parts = [f"last {fmt(status['last_price'])}"]
    for target in status.get("targets", ()):
        pct = target.get("distance_pct")
        where = f"{pct:+.2f}%" if pct is not None else fmt(target["distance"])
        parts.append(f"{target['type']} {fmt(target['price'])} ({where})")
    parts.append(f"filled {fmt(status.get('filled', Decimal(0)))}")
    parts.append(f"elapsed {int(status.get('elapsed_s', 0))}s")
    return " | ".join(parts)


class TextProgress:
    """Human progress. On a terminal the waiting status rewrites one line in place; otherwise a
    waiting line is printed at most every `quiet_s` wall seconds so logs stay readable."""

    def __init__(self, out: TextIO, *, live: bool, quiet_s: float = 5.0):
        self.out = out
        self.live = live
        self.quiet_s = quiet_s
        self._last_wait = 0.0
        self._dirty = False

    def _line(self, text: str) -> None:
        if self._dirty:
            self.out.write("\r\x1b[2K")
            self._dirty = False
        self.out.write(text + "\n")
        self.out.flush()

    def step_started(self, step: Step) -> None:
        self._line(f"[{step.id}] started")

    def order_placed(self, step: Step, snapshot: Any) -> None:
        self._line(f"[{step.id}] placed {describe_snapshot(snapshot)}")

    def fill(self, step: Step, fill: FillRecord) -> None:
        self._line(f"[{step.id}] fill {fill.side} {fmt(fill.qty)} @ {fmt(fill.price)} "
                   f"(fee {fmt(fill.commission)} {fill.commission_asset}) id {fill.client_order_id}")

    def waiting(self, status: Mapping[str, Any]) -> None:
        text = f"waiting for {', '.join(status.get('waiting_for', ())) or 'the exchange'}: " \
               f"{status_line(status)}"
        if self.live:
            self.out.write("\r\x1b[2K" + text[:200])
            self.out.flush()
            self._dirty = True
            return
        now = time.monotonic()
        if now - self._last_wait >= self.quiet_s:
            self._last_wait = now
            self._line(text)

    def step_done(self, step: Step) -> None:
        outcome = step.status.value
        reason = f": {step.last_error}" if step.last_error and outcome != "done" else ""
        self._line(f"[{step.id}] {outcome}{reason}")

    def plan_complete(self, state: State) -> None:
        self._line(f"plan {state.plan_name} complete")

    def note(self, text: str) -> None:
        self._line(f"note: {text}")

    def drift(self, record: Any) -> None:
        self._line(f"changed outside planrunner: {record.change} ({record.action})")


class JsonProgress:
    """One JSON object per line per event; Decimals as strings; stable keys."""

    def __init__(self, out: TextIO):
        self.out = out

    def emit(self, event: str, **fields: Any) -> None:
        self.out.write(json.dumps({"event": event, **_money(fields)}, sort_keys=True) + "\n")
        self.out.flush()

    def step_started(self, step: Step) -> None:
        self.emit("step_started", step=step.id, kind=step.kind)

    def order_placed(self, step: Step, snapshot: Any) -> None:
        orders = getattr(snapshot, "orders", None)
        if orders is not None:
            self.emit("order_placed", step=step.id, list_client_order_id=snapshot.list_client_order_id,
                      order_list_id=snapshot.order_list_id,
                      orders=[{"client_order_id": o.client_order_id, "order_id": o.order_id,
                               "type": o.type, "side": o.side, "status": str(o.status)}
                              for o in orders])
            return
        self.emit("order_placed", step=step.id, client_order_id=snapshot.client_order_id,
                  order_id=snapshot.order_id, type=snapshot.type, side=snapshot.side,
                  status=str(snapshot.status))

    def fill(self, step: Step, fill: FillRecord) -> None:
        self.emit("fill", step=step.id, client_order_id=fill.client_order_id,
                  trade_id=fill.trade_id, side=fill.side, price=fill.price, qty=fill.qty,
                  commission=fill.commission, commission_asset=fill.commission_asset)

    def waiting(self, status: Mapping[str, Any]) -> None:
        """Waiting is a state, not an event: JSON consumers poll `status --format json`."""

    def step_done(self, step: Step) -> None:
        self.emit("step_done", step=step.id, status=step.status.value, reason=step.last_error)

    def plan_complete(self, state: State) -> None:
        self.emit("plan_complete", plan=state.plan_name, realised_pnl=state.realised_pnl,
                  serial=state.serial)

    def note(self, text: str) -> None:
        self.emit("note", text=text)

    def drift(self, record: Any) -> None:
        self.emit("drift", step=record.step, client_order_id=record.client_order_id,
                  kind=record.kind, change=record.change, action=record.action,
                  unsafe=record.unsafe)
