"""Bringing a state up to date from the exchange, and telling drift from normal life.

A fill, an OCO leg expiring because its sibling worked, or pending legs of a list ending with
their working order are normal and only recorded. Drift is a change planrunner did not cause:
a leg cancelled without planrunner having sent a cancel, a working exit that expired on its
own, or an order the exchange no longer knows. `refresh_state` is what `plan` (in memory) and
`status --refresh` (saved under the lock) use; the engine uses `refresh_step` the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from planrunner.clock import Clock
from planrunner.errors import OrderNotFound
from planrunner.exchanges.base import Exchange, OrderSnapshot, OrderStatus
from planrunner.reconcile import Lookup, RetryPolicy, leg_order_id, record_snapshot
from planrunner.state import DriftRecord, FillRecord, OrderRecord, State, Step, StepStatus

ENDED_BY_ITSELF = ("EXPIRED", "EXPIRED_IN_MATCH")
REPORTED = "reported; `planrunner apply` repairs it"


def _final(record: OrderRecord | None) -> bool:
    return record is not None and OrderStatus(record.status).is_final


def _role(step: Step, cid: str) -> str:
    return next((leg.role for leg in step.legs if leg.client_order_id == cid), "order")


def _working_filled(step: Step, state: State) -> bool:
    entry = next((leg for leg in step.legs if leg.role == "entry"), None)
    record = state.order(entry.client_order_id) if entry else None
    return entry is None or (record is not None and record.status == OrderStatus.FILLED)


def _expected_expiry(step: Step, state: State, cid: str) -> bool:
    """An OCO leg expires when its sibling works; pending legs end with their working order;
    entries expire by their time in force."""
    if _role(step, cid) == "entry" or not _working_filled(step, state):
        return True
    others = [state.order(leg.client_order_id) for leg in step.legs
              if leg.client_order_id != cid and leg.role != "entry"]
    return any(r is not None and (r.executed_qty > 0 or not _final(r)) for r in others)


def classify(step: Step, before: State, after: State, now_ms: int) -> tuple[DriftRecord, ...]:
    """Drift among the step's legs that turned final between `before` and `after`."""
    found = []
    for cid in step.leg_ids():
        old, new = before.order(cid), after.order(cid)
        if new is None or _final(old) or not _final(new) or step.cancel_sent_ms is not None:
            continue
        what = f"{_role(step, cid).replace('_', '-')} order {cid} of {step.id}"
        if new.status == OrderStatus.CANCELED and _working_filled_or_entry(step, after, cid):
            found.append(DriftRecord(step.id, cid, "cancelled", f"{what} was cancelled outside "
                                     f"planrunner", now_ms, REPORTED))
        elif new.status in ENDED_BY_ITSELF and not _expected_expiry(step, after, cid):
            found.append(DriftRecord(step.id, cid, "expired", f"{what} {new.status} on the "
                                     f"exchange without filling", now_ms, REPORTED))
    return tuple(_merged(step, [d for d in found if d.kind == kind])
                 for kind in dict.fromkeys(d.kind for d in found))


def _merged(step: Step, records: list[DriftRecord]) -> DriftRecord:
    """Both legs of a cancelled OCO end together: one record for the list says it."""
    if len(records) == 1:
        return records[0]
    first = records[0]
    roles = " and ".join(_role(step, d.client_order_id).replace("_", "-") for d in records)
    verb = {"cancelled": "were cancelled outside planrunner",
            "vanished": "no longer exist on the exchange"}.get(
        first.kind, "expired on the exchange without filling")
    return dataclasses.replace(first, client_order_id=step.client_id or first.client_order_id,
                               change=f"{roles} orders of {step.id} (order list "
                                      f"{step.client_id}) {verb}")


def _working_filled_or_entry(step: Step, state: State, cid: str) -> bool:
    """Pending legs are cancelled with their working order: only that one is the drift."""
    return _role(step, cid) == "entry" or _working_filled(step, state)


def _vanished(step: Step, cid: str, record: OrderRecord, now_ms: int
              ) -> tuple[OrderRecord, DriftRecord]:
    gone = dataclasses.replace(record, status=OrderStatus.CANCELED.value, update_time_ms=now_ms)
    what = f"{_role(step, cid).replace('_', '-')} order {cid} of {step.id}"
    return gone, DriftRecord(step.id, cid, "vanished", f"{what} no longer exists on the "
                             f"exchange", now_ms, REPORTED)


def _query_legs(lookup: Lookup, step: Step, state: State, symbol: str
                ) -> tuple[list[OrderSnapshot], list[str]]:
    """Snapshots of the step's open legs, and the known-open legs the exchange denies twice."""
    snaps, missing = [], []
    for cid in step.leg_ids():
        record = state.order(cid)
        if _final(record):
            continue
        try:
            snaps.append(lookup.query(symbol, cid, leg_order_id(step, state, cid)))
        except OrderNotFound:
            if record is None or record.status == OrderStatus.PENDING_NEW:
                lookup.note(f"{step.id}: the exchange does not know order {cid} (yet)")
            elif _absent(lookup, symbol, cid, leg_order_id(step, state, cid)):
                missing.append(cid)
    return snaps, missing


def _absent(lookup: Lookup, symbol: str, cid: str, order_id: int | None) -> bool:
    """A second "not found", a back-off later, before calling an order gone."""
    lookup.clock.sleep(lookup.policy.delay(1))
    try:
        lookup.query(symbol, cid, order_id)
    except OrderNotFound:
        return True
    return False


def refresh_step(lookup: Lookup, state: State, step: Step, symbol: str, now_ms: int
                 ) -> tuple[State, tuple[FillRecord, ...], tuple[DriftRecord, ...]]:
    """Fold what the exchange says about the step's open legs into the state; (state, new
    fills, drift). Drift records are also added to the state."""
    before = state
    snaps, missing = _query_legs(lookup, step, state, symbol)
    fills: tuple[FillRecord, ...] = ()
    if snaps:
        state, fills = record_snapshot(state, step.id, lookup.with_trades(state, tuple(snaps)))
    drift = list(classify(step, before, state, now_ms))
    gone_records = []
    for cid in missing:
        record = state.order(cid)
        assert record is not None
        gone, entry = _vanished(step, cid, record, now_ms)
        state = state.with_order(gone)
        gone_records.append(entry)
    if gone_records:
        drift.append(_merged(step, gone_records))
    for entry in drift:
        state = state.with_drift(entry)
    return state, fills, tuple(drift)


def refresh_state(state: State, exchange: Exchange, *, clock: Clock,
                  retry: RetryPolicy | None = None,
                  note: Callable[[str], None] = lambda _: None
                  ) -> tuple[State, tuple[DriftRecord, ...]]:
    """The state brought up to date from the exchange (orders, fills, commissions), and the
    drift found. Touches nothing on the exchange and writes nothing: the caller saves or not."""
    lookup = Lookup(exchange, clock, retry or RetryPolicy(), note)
    found: tuple[DriftRecord, ...] = ()
    for step in state.steps:
        if step.status is StepStatus.PLACED:
            # steps stay `placed`: the engine settles them and decides what to do about them,
            # so `apply` after `status --refresh` still sees work to do and repairs it
            state, _, drift = refresh_step(lookup, state, step, state.symbol, clock.now_ms())
            found += drift
    return state, found
