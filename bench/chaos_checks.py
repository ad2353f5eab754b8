"""The chaos suite's invariants, as pure functions over what the simulator holds (`/sim/orders`)
and what the state file says: duplicates, lost steps, unprotected positions, tracebacks.

Each check returns a list of findings (human-readable, one per problem); an empty list passes.
Shared by `bench/chaos` and the seeded version in tests/chaos/.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from planrunner.state import State, StepStatus

PLACING = ("place_order", "place_order_list")
ON_EXCHANGE = (StepStatus.PLACED, StepStatus.WAITING, StepStatus.DONE)
LIVE = ("NEW", "PARTIALLY_FILLED")  # a PENDING_NEW leg protects nothing until it is armed

SimOrder = Mapping[str, Any]  # one row of GET /sim/orders


def placed_ids(orders: Iterable[SimOrder]) -> Counter[str]:
    """Client ids as placed (a cancel renames an order; `origClientOrderId` keeps the first)."""
    return Counter(o.get("origClientOrderId") or o["clientOrderId"] for o in orders)


def duplicates(orders: Sequence[SimOrder]) -> list[str]:
    """Client ids the simulator accepted more than once (Binance takes a reused id once the
    first order is final, so a blind re-send shows up here)."""
    return [f"client id {cid} placed {n} times"
            for cid, n in sorted(placed_ids(orders).items()) if n > 1]


def lost_steps(orders: Sequence[SimOrder], state: State | None, *, finished: bool) -> list[str]:
    """Steps the state calls placed/done whose legs the simulator lacks; after a normal return
    (`finished`), also steps left `sending`."""
    if state is None:
        return []
    have = placed_ids(orders)
    found = []
    for step in state.steps:
        if step.kind not in PLACING:
            continue
        if step.status in ON_EXCHANGE:
            missing = [cid for cid in step.leg_ids() if cid not in have]
            if missing or not step.legs:
                found.append(f"step {step.id} is {step.status} but the exchange lacks "
                             f"{missing or 'every leg'}")
        elif finished and step.status is StepStatus.SENDING:
            found.append(f"step {step.id} left `sending` after apply returned normally")
    return found


def orphans(orders: Sequence[SimOrder], state: State | None) -> list[str]:
    """Orders on the exchange whose intent the state never recorded (sent before persisting)."""
    known = set() if state is None else {cid for s in state.steps for cid in s.leg_ids()}
    return [f"order {cid} on the exchange is in no step of the state"
            for cid in sorted(set(placed_ids(orders)) - known)]


def exposure(orders: Sequence[SimOrder], entry_side: str, base: str, held: Decimal) -> Decimal:
    """Base the plan holds (a sell plan: owes back) now: `held` at the start, plus what the
    entry orders got net of commission taken in base, minus what the exits executed."""
    total = held
    for order in orders:
        qty = Decimal(order["executedQty"])
        if order["side"] == entry_side:
            fees = sum((Decimal(f["commission"]) for f in order.get("fills", ())
                        if f.get("commissionAsset") == base and entry_side == "BUY"), Decimal(0))
            total += qty - fees
        else:
            total -= qty
    return total


def coverage(orders: Sequence[SimOrder], entry_side: str) -> Decimal:
    """Base the live exit orders would close: one per order list (an OCO's legs close the same
    coins), each plain order on its own."""
    per_list: dict[int, Decimal] = {}
    alone = Decimal(0)
    for order in orders:
        if order["side"] == entry_side or order["status"] not in LIVE:
            continue
        left = Decimal(order["origQty"]) - Decimal(order["executedQty"])
        if order.get("orderListId", -1) == -1:
            alone += left
        else:
            key = order["orderListId"]
            per_list[key] = max(per_list.get(key, Decimal(0)), left)
    return alone + sum(per_list.values(), Decimal(0))


def unprotected(orders: Sequence[SimOrder], entry_side: str, base: str, held: Decimal,
                tolerance: Decimal) -> list[str]:
    """After a normal return: base held because of the plan that no live exit covers. Dust
    below `tolerance` (exit quantities rounded down to the step size) is not a position."""
    open_qty = exposure(orders, entry_side, base, held)
    covered = coverage(orders, entry_side)
    if open_qty - covered < tolerance:
        return []
    return [f"{open_qty} {base} held by the plan, live exits cover only {covered}"]


def tracebacks(stderr: str, where: str) -> list[str]:
    if "Traceback" not in stderr:
        return []
    tail = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    return [f"{where}: traceback ({tail})"]
