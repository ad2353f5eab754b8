"""Knowing what the exchange really has: retried reads, look-ups by client id that can prove an
order absent, and folding exchange snapshots into the State (orders, fills, step outcome, P&L).

The folding functions are pure; `Lookup` is the only part here that talks to the exchange.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from planrunner.clock import Clock
from planrunner.compile import EntryFill
from planrunner.errors import (CompileError, ExchangeError, OrderNotFound, OutcomeUnknown,
                               RateLimited, TransientError)
from planrunner.exchanges.base import (Exchange, MarketContext, OrderListSnapshot, OrderSnapshot,
                                       OrderStatus)
from planrunner.money import ZERO
from planrunner.state import FillRecord, OrderRecord, State, Step

T = TypeVar("T")
Snapshot = OrderSnapshot | OrderListSnapshot


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial_s: float = 0.5
    maximum_s: float = 30.0
    read_attempts: int = 8  # per read, before the error is raised (the state stays resumable)
    absent_confirmations: int = 2  # "not found" answers, a back-off apart, that prove absence
    send_attempts: int = 5  # sends of one client id proven absent each time

    def delay(self, attempt: int) -> float:
        return min(self.maximum_s, self.initial_s * (2 ** attempt))


class Lookup:
    """Reads with retry and back-off; look-ups by client id."""

    def __init__(self, exchange: Exchange, clock: Clock, policy: RetryPolicy,
                 note: Callable[[str], None]):
        self.exchange = exchange
        self.clock = clock
        self.policy = policy
        self.note = note

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Call an idempotent exchange function, retrying transient failures with back-off."""
        for attempt in range(self.policy.read_attempts):
            try:
                return fn(*args)
            except RateLimited as exc:
                if attempt + 1 == self.policy.read_attempts:
                    raise
                self.clock.sleep(exc.retry_after or self.policy.delay(attempt))
            except (TransientError, OutcomeUnknown) as exc:
                if attempt + 1 == self.policy.read_attempts:
                    raise
                self.note(f"exchange read failed ({exc}); retrying")
                self.clock.sleep(self.policy.delay(attempt))
        raise AssertionError("unreachable")

    def find(self, step: Step, symbol: str) -> Snapshot | None:
        """The step's order or list as the exchange has it, or None if it does not exist."""
        try:
            if step.order_list_id is not None or _is_list(step):
                return self._find_list(step, symbol)
            order_id = step.order_id or next((leg.order_id for leg in step.legs
                                              if leg.order_id), None)
            return self.query(symbol, step.client_id or "", order_id)
        except OrderNotFound:
            return None

    def query(self, symbol: str, client_order_id: str, order_id: int | None = None
              ) -> OrderSnapshot:
        """One order by the exchange's order id when it is known (a cancel on Binance renames
        the client id, so a look-up by the original one would miss), else by client id."""
        if order_id:
            return self.read(lambda: self.exchange.query_order(symbol, client_order_id,
                                                               order_id=order_id))
        return self.read(self.exchange.query_order, symbol, client_order_id)

    def with_trades(self, state: State, snap: Snapshot | tuple[OrderSnapshot, ...]
                    ) -> Snapshot | tuple[OrderSnapshot, ...]:
        """The answer with each order's real fills (ids, commissions) when its executed
        quantity is more than its recorded and reported fills explain: a query carries no
        fills. One order_trades call per such order; if it fails, the answer is returned as it
        was and the unexplained quantity is folded in as a summary fill."""
        if isinstance(snap, OrderListSnapshot):
            return dataclasses.replace(snap, orders=tuple(self._order_trades(state, o)
                                                          for o in snap.orders))
        if isinstance(snap, tuple):
            return tuple(self._order_trades(state, o) for o in snap)
        return self._order_trades(state, snap)

    def _order_trades(self, state: State, snap: OrderSnapshot) -> OrderSnapshot:
        if snap.executed_qty <= 0 or not snap.order_id:
            return snap
        cids = {snap.client_order_id} | {r.client_order_id for r in state.orders
                                         if r.order_id == snap.order_id}
        recorded = {f.trade_id: f.qty for f in state.fills if f.client_order_id in cids}
        reported = {f.trade_id: f.qty for f in snap.fills}
        if sum({**recorded, **reported}.values(), ZERO) >= snap.executed_qty:
            return snap
        try:
            trades = self.read(self.exchange.order_trades, snap.symbol, snap.order_id)
        except ExchangeError as exc:
            self.note(f"could not read the trades of order {snap.order_id} ({exc}); its "
                      f"commission is estimated")
            return snap
        merged = {f.trade_id: f for f in snap.fills}
        merged.update({f.trade_id: f for f in trades})
        return dataclasses.replace(snap, fills=tuple(merged[t] for t in sorted(merged)))

    def prove(self, step: Step, symbol: str) -> Snapshot | None:
        """Like find, but "absent" only after several not-found answers a back-off apart:
        a just-created order may take a moment to become visible to queries."""
        for attempt in range(self.policy.absent_confirmations):
            if attempt:
                self.clock.sleep(self.policy.delay(attempt))
            found = self.find(step, symbol)
            if found is not None:
                return found
        return None

    def refresh_legs(self, step: Step, state: State, symbol: str) -> tuple[OrderSnapshot, ...]:
        """Query every leg of the step that is not final yet."""
        snaps = []
        for cid in step.leg_ids():
            record = state.order(cid)
            if record is not None and OrderStatus(record.status).is_final:
                continue
            try:
                snaps.append(self.query(symbol, cid, leg_order_id(step, state, cid)))
            except OrderNotFound:
                self.note(f"{step.id}: the exchange does not know order {cid} (yet)")
        return tuple(snaps)

    def _find_list(self, step: Step, symbol: str) -> OrderListSnapshot:
        header = self.read(self.exchange.query_order_list, step.client_id)
        legs = []
        for leg in header.orders:
            try:
                legs.append(self.query(symbol, leg.client_order_id, leg.order_id))
            except OrderNotFound:
                legs.append(leg)
        return dataclasses.replace(header, orders=tuple(legs))


def leg_order_id(step: Step, state: State, cid: str) -> int | None:
    """The exchange's order id for one of the step's legs, as persisted, or None."""
    record = state.order(cid)
    if record is not None and record.order_id:
        return record.order_id
    return next((leg.order_id for leg in step.legs
                 if leg.client_order_id == cid and leg.order_id), None)


def _is_list(step: Step) -> bool:
    return step.kind == "place_order_list"


def snapshot_orders(snap: Snapshot) -> tuple[OrderSnapshot, ...]:
    return snap.orders if isinstance(snap, OrderListSnapshot) else (snap,)


def _record(previous: OrderRecord | None, snap: OrderSnapshot,
            trade_ids: tuple[int, ...]) -> OrderRecord:
    if previous is not None and OrderStatus(previous.status).is_final \
            and not snap.status.is_final:
        return previous  # a stale read never reopens a finished order
    return OrderRecord(
        client_order_id=snap.client_order_id, order_id=snap.order_id, side=snap.side,
        type=snap.type, status=snap.status.value, orig_qty=snap.orig_qty,
        executed_qty=snap.executed_qty, cumulative_quote_qty=snap.cumulative_quote_qty,
        price=snap.price, stop_price=snap.stop_price, order_list_id=snap.order_list_id,
        update_time_ms=snap.update_time_ms, trade_ids=trade_ids)


def record_order(state: State, snap: OrderSnapshot) -> tuple[State, tuple[FillRecord, ...]]:
    """Fold one order snapshot in; returns the fills to report. A query carries no fills, so
    executed quantity that no reported fill covers is reported as one summary fill (trade id 0,
    average price, commission unknown = 0); only real fills are stored."""
    previous = state.order(snap.client_order_id)
    known = set(previous.trade_ids) if previous else set()
    new = tuple(FillRecord(client_order_id=snap.client_order_id, trade_id=f.trade_id,
                           side=snap.side, price=f.price, qty=f.qty, commission=f.commission,
                           commission_asset=f.commission_asset, time_ms=f.time_ms)
                for f in snap.fills if f.trade_id not in known)
    trade_ids = (previous.trade_ids if previous else ()) + tuple(f.trade_id for f in new)
    record = _record(previous, snap, trade_ids)
    state = state.with_order(record).with_fills(new)
    return state, new + _unreported(previous, record, new)


def _unreported(previous: OrderRecord | None, record: OrderRecord,
                new: tuple[FillRecord, ...]) -> tuple[FillRecord, ...]:
    before = previous.executed_qty if previous else ZERO
    before_quote = previous.cumulative_quote_qty if previous else ZERO
    qty = record.executed_qty - before - sum((f.qty for f in new), ZERO)
    if qty <= 0:
        return ()
    quote = record.cumulative_quote_qty - before_quote - sum((f.qty * f.price for f in new), ZERO)
    return (FillRecord(client_order_id=record.client_order_id, trade_id=0, side=record.side,
                       price=quote / qty, qty=qty, commission=ZERO, commission_asset="",
                       time_ms=record.update_time_ms),)


def record_snapshot(state: State, step_id: str, snap: Snapshot | tuple[OrderSnapshot, ...]
                    ) -> tuple[State, tuple[FillRecord, ...]]:
    """Fold a placement / query answer into the state and the step's ids and totals."""
    step = state.step(step_id)
    assert step is not None
    orders = _by_leg(step, snap if isinstance(snap, tuple) else snapshot_orders(snap))
    fills: tuple[FillRecord, ...] = ()
    for order in orders:
        state, new = record_order(state, order)
        fills += new
    step = state.step(step_id)
    assert step is not None
    step = _with_ids(step, snap, state)
    return state.with_step(summarise(step, state)), fills


def _by_leg(step: Step, orders: tuple[OrderSnapshot, ...]) -> tuple[OrderSnapshot, ...]:
    """A cancel on Binance renames the order's client id; file the answer under the leg's own
    client id, matched by order id, so the leg is seen final and never looked for again."""
    by_order_id = {leg.order_id: leg.client_order_id for leg in step.legs if leg.order_id}
    own = set(step.leg_ids())
    return tuple(dataclasses.replace(o, client_order_id=by_order_id[o.order_id])
                 if o.client_order_id not in own and o.order_id in by_order_id else o
                 for o in orders)


def _with_ids(step: Step, snap: Snapshot | tuple[OrderSnapshot, ...], state: State) -> Step:
    if isinstance(snap, OrderListSnapshot):
        step = dataclasses.replace(step, order_list_id=snap.order_list_id)
    elif isinstance(snap, OrderSnapshot):
        step = dataclasses.replace(step, order_id=snap.order_id)
    legs = tuple(dataclasses.replace(leg, order_id=r.order_id)
                 if (r := state.order(leg.client_order_id)) else leg for leg in step.legs)
    return dataclasses.replace(step, legs=legs)


def primary_leg(step: Step) -> str | None:
    """The entry leg of a list, or the step's only order."""
    for leg in step.legs:
        if leg.role == "entry":
            return leg.client_order_id
    return step.legs[0].client_order_id if len(step.legs) == 1 else step.client_id


def summarise(step: Step, state: State) -> Step:
    records = [r for cid in step.leg_ids() if (r := state.order(cid)) is not None]
    primary = state.order(primary_leg(step) or "")
    counted = [primary] if primary is not None and len(step.legs) > 1 else records
    filled = sum((r.executed_qty for r in counted), ZERO)
    quote = sum((r.cumulative_quote_qty for r in counted), ZERO)
    fees: dict[str, Decimal] = {}
    ids = set(step.leg_ids())
    for fill in state.fills:
        if fill.client_order_id in ids:
            fees[fill.commission_asset] = fees.get(fill.commission_asset, ZERO) + fill.commission
    return dataclasses.replace(step, filled_qty=filled, quote_qty=quote,
                               avg_price=quote / filled if filled > 0 else None,
                               fees=tuple(sorted(fees.items())))


def outcome(step: Step, state: State) -> tuple[bool, str | None]:
    """(final, failure reason): final once every leg is final; a failure only when nothing
    executed and a leg was rejected or expired (a cancel is a planned end, not a failure)."""
    records = [state.order(cid) for cid in step.leg_ids()]
    if not records or any(r is None or not OrderStatus(r.status).is_final for r in records):
        return False, None
    if any(r.executed_qty > 0 or r.status == "CANCELED" for r in records if r is not None):
        return True, None
    statuses = ", ".join(f"{r.client_order_id} {r.status}" for r in records if r is not None)
    return True, f"{step.id} ended without any fill ({statuses})"


def realised_pnl(state: State, entry_side: str, market: MarketContext) -> Decimal | None:
    """Quote P&L of the exited quantity against the average entry price, net of commissions.
    Works from order totals (a query reports executedQty and cummulativeQuoteQty but no fills);
    commissions are the reported ones in the base or quote asset, plus an estimate at the taker
    rate for executed quantity whose fills were not reported. Commissions in a third asset (BNB)
    are left out; they show in the step fees. With nothing entered through planrunner (entry:
none) exits are measured against the state's cost_basis; None when there is none, or no exit
executed yet."""
    entries = [o for o in state.orders if o.side == entry_side and o.executed_qty > 0]
    qty = sum((o.executed_qty for o in entries), ZERO)
    if qty > 0:
        average = sum((o.cumulative_quote_qty for o in entries), ZERO) / qty
    elif state.cost_basis is not None and any(
            o.side != entry_side and o.executed_qty > 0 for o in state.orders):
        average = state.cost_basis  # entry: none: the coins were bought at the cost basis
    else:
        return None
    direction = 1 if entry_side == "BUY" else -1
    gross = sum(((o.cumulative_quote_qty - average * o.executed_qty) * direction
                 for o in state.orders if o.side != entry_side), ZERO)
    return gross - sum((_fees_in_quote(o, state, market) for o in state.orders), ZERO)


def _fees_in_quote(order: OrderRecord, state: State, market: MarketContext) -> Decimal:
    if order.executed_qty <= 0:
        return ZERO
    price = order.cumulative_quote_qty / order.executed_qty
    fills = [f for f in state.fills if f.client_order_id == order.client_order_id]
    base, quote = market.rules.base_asset, market.rules.quote_asset
    known = sum((f.commission * (price if f.commission_asset == base else 1)
                 for f in fills if f.commission_asset in (base, quote)), ZERO)
    uncovered = order.executed_qty - sum((f.qty for f in fills), ZERO)
    return known + max(uncovered, ZERO) * price * market.commission.taker


def entry_fill(state: State, target: Step, market: MarketContext) -> EntryFill:
    """The entry's fill as resolve_action wants it. net_qty is what was received: executed minus
    commission paid in the base asset; for executed quantity whose fills the exchange did not
    report (a query carries no fills), a BUY's commission is estimated at the taker rate, so
    exits are never sized on coins that are not there."""
    record = state.order(primary_leg(target) or "")
    if record is None or record.executed_qty <= 0:
        raise CompileError(f"{target.id} has no fill to size the exits on")
    fills = [f for f in state.fills if f.client_order_id == record.client_order_id]
    fee = sum((f.commission for f in fills if f.commission_asset == market.rules.base_asset), ZERO)
    uncovered = record.executed_qty - sum((f.qty for f in fills), ZERO)
    if uncovered > 0 and record.side == "BUY":
        fee += uncovered * market.commission.taker
    return EntryFill(
        executed_qty=record.executed_qty,
        avg_price=record.cumulative_quote_qty / record.executed_qty,
        net_qty=record.executed_qty - fee, quote_qty=record.cumulative_quote_qty)
