"""Test doubles for the engine: a small, honest in-memory exchange that follows a scripted price
path, a fault-injecting wrapper (unknown outcomes, transient errors, simulated crashes), a
recording clock and recording hooks. Passed in through constructors; nothing is patched."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable

from planrunner.clock import ManualClock
from planrunner.errors import OrderNotFound, OrderRejected
from planrunner.exchanges.base import (Balance, Capabilities, Fill, MarketContext,
                                       OrderListSnapshot, OrderSnapshot, OrderStatus)
from planrunner.exchanges.rules import builtin_rules
from planrunner.money import floor_to


class SimulatedCrash(BaseException):
    """The process dies: not an Exception, so nothing in the engine may swallow it."""


@dataclass(eq=False)  # legs point at each other: compare by identity
class FakeOrder:
    client_order_id: str
    order_id: int
    side: str
    type: str
    qty: Decimal | None  # None: an OPO pending leg sized by the working fill
    price: Decimal = Decimal(0)
    stop_price: Decimal = Decimal(0)
    status: OrderStatus = OrderStatus.NEW
    list_id: int = -1
    executed: Decimal = Decimal(0)
    quote: Decimal = Decimal(0)
    fills: list[Fill] = field(default_factory=list)
    siblings: list["FakeOrder"] = field(default_factory=list)  # OCO partners
    activates: list["FakeOrder"] = field(default_factory=list)  # pending legs of a working order


class FakeExchange:
    """Binance-like in the ways the engine relies on: client ids unique among OPEN orders only
    (reuse after final is accepted, like Binance: a blind re-send would show), queries carry no
    fills, OCO legs expire their sibling, OTO/OPO pending legs activate on the working fill."""

    def __init__(self, symbol: str = "BTCUSDT", start: str = "7195.24",
                 path: tuple[str, ...] = (), *, live: bool = False, commission: str = "0.001"):
        self.rules = builtin_rules()[symbol]
        self.price = Decimal(start)
        self.path = [Decimal(p) for p in path]
        self.live = live
        self.rate = Decimal(commission)
        self.orders: list[FakeOrder] = []
        self.lists: dict[str, tuple[int, list[FakeOrder]]] = {}
        self.accepted: list[str] = []  # every client id (order or list) the exchange created
        self.requests: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        self.reject_next: OrderRejected | None = None
        self.rename_on_cancel = False  # Binance gives a cancelled order a new client id
        self.balance: dict[str, Decimal] | None = None  # free balances; None: reports none
        self.fill_caps: dict[str, Decimal] = {}  # client id suffix -> most it may fill
        self.reject_on: dict[int, OrderRejected] = {}  # submit number (1-based) -> refusal
        self.submits = 0
        self.on_tick: dict[int, Callable[[FakeExchange], None]] = {}  # tick number -> event
        self.ticks = 0
        self.after_submit: dict[int, Callable[[FakeExchange], None]] = {}  # market moves
        self.queries: list[tuple[str, int | None]] = []  # (client id, order id) per query
        self.trade_reads: list[int] = []  # order ids whose trades were read
        self._ids = 0
        self._trades = 0

    # -- Exchange protocol ----------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        return Capabilities(name="fake", live=self.live)

    def market_context(self, symbol: str) -> MarketContext:
        return MarketContext(rules=self.rules, last_price=self.price)

    def last_price(self, symbol: str) -> Decimal:
        return self.price

    def submit(self, request: Any) -> OrderSnapshot | OrderListSnapshot:
        self.submits += 1
        if self.submits in self.reject_on:
            raise self.reject_on.pop(self.submits)
        if self.reject_next is not None:
            exc, self.reject_next = self.reject_next, None
            raise exc
        p = request.as_dict()
        kind = request.path.rsplit("/", 1)[1]
        built = self._single(p) if kind == "order" else self._list(kind, p)
        self.requests.append((request.endpoint, request.params))
        self._match()
        if self.submits in self.after_submit:
            self.after_submit.pop(self.submits)(self)
        if isinstance(built, FakeOrder):
            return self._snap(built, fills=True)
        list_id, legs = built
        return self._list_snap(p["listClientOrderId"], list_id, legs, fills=True)

    def query_order(self, symbol: str, client_order_id: str, *,
                    order_id: int | None = None) -> OrderSnapshot:
        self.queries.append((client_order_id, order_id))
        if order_id is not None:  # Binance: by order id alone, whatever the client id is now
            order = next((o for o in self.orders if o.order_id == order_id), None)
            if order is None:
                raise OrderNotFound("Order does not exist.", code=-2013)
            return self._snap(order, fills=False)
        return self._snap(self._find(client_order_id), fills=False)

    def order_trades(self, symbol: str, order_id: int) -> tuple[Fill, ...]:
        self.trade_reads.append(order_id)
        return tuple(f for o in self.orders if o.order_id == order_id for f in o.fills)

    def query_order_list(self, list_client_order_id: str) -> OrderListSnapshot:
        if list_client_order_id not in self.lists:
            raise OrderNotFound("Order list does not exist.", code=-2018)
        list_id, legs = self.lists[list_client_order_id]
        return self._list_snap(list_client_order_id, list_id, legs, fills=False)

    def cancel_order(self, symbol: str, client_order_id: str) -> OrderSnapshot:
        order = self._find(client_order_id)
        if order.status.is_final:
            raise OrderRejected("Unknown order sent.", code=-2011)
        for o in [order] + order.siblings + order.activates:
            if not o.status.is_final:
                o.status = OrderStatus.CANCELED
        return self._snap(order, fills=False)

    def cancel_order_list(self, symbol: str, list_client_order_id: str) -> OrderListSnapshot:
        list_id, legs = self.lists[list_client_order_id]
        if all(o.status.is_final for o in legs):
            raise OrderRejected("Unknown order sent.", code=-2011)
        for o in legs:
            if not o.status.is_final:
                o.status = OrderStatus.CANCELED
                if self.rename_on_cancel:
                    o.client_order_id = f"cancel{o.order_id}"
        return self._list_snap(list_client_order_id, list_id, legs, fills=False)

    def open_orders(self, symbol: str) -> tuple[OrderSnapshot, ...]:
        return tuple(self._snap(o, False) for o in self.orders if not o.status.is_final)

    def balances(self) -> tuple:
        return tuple(Balance(a, f) for a, f in sorted((self.balance or {}).items()))

    # -- someone else's hands -------------------------------------------------------------------
    def by_suffix(self, suffix: str) -> FakeOrder:
        return next(o for o in reversed(self.orders) if o.client_order_id.endswith(suffix))

    def cancel_by_hand(self, suffix: str) -> None:
        """A person cancels an order on the exchange's website: its OCO sibling goes too."""
        order = self.by_suffix(suffix)
        for o in [order] + order.siblings + order.activates:
            if not o.status.is_final:
                o.status = OrderStatus.CANCELED
                if self.rename_on_cancel:
                    o.client_order_id = f"cancel{o.order_id}"

    def forget(self, suffix: str) -> None:
        """The exchange no longer knows the order (archived, or lost)."""
        self.orders.remove(self.by_suffix(suffix))

    # -- market driver --------------------------------------------------------------------------
    def advance(self) -> None:
        self.ticks += 1
        if self.path:
            self.price = self.path.pop(0)
        if self.ticks in self.on_tick:
            self.on_tick.pop(self.ticks)(self)
        self._match()

    # -- internals ------------------------------------------------------------------------------
    def _new(self, cid: str, side: str, type_: str, qty: Decimal | None, price: str | None,
             stop: str | None, list_id: int = -1) -> FakeOrder:
        if any(o.client_order_id == cid and not o.status.is_final for o in self.orders):
            raise OrderRejected("Duplicate order sent.", code=-2010)
        self._ids += 1
        order = FakeOrder(cid, self._ids, side, type_, qty, Decimal(price or 0),
                          Decimal(stop or 0), list_id=list_id)
        self.orders.append(order)
        self.accepted.append(cid)
        return order

    def _single(self, p: dict[str, str]) -> FakeOrder:
        qty = Decimal(p["quantity"]) if "quantity" in p else floor_to(
            Decimal(p["quoteOrderQty"]) / self.price, self.rules.step_size)
        return self._new(p["newClientOrderId"], p["side"], p["type"], qty, p.get("price"),
                         p.get("stopPrice"))

    def _leg(self, p: dict[str, str], prefix: str, side: str, qty: Decimal | None,
             list_id: int) -> FakeOrder:
        return self._new(p[f"{prefix}ClientOrderId"], side, p[f"{prefix}Type"], qty,
                         p.get(f"{prefix}Price"), p.get(f"{prefix}StopPrice"), list_id)

    def _list(self, kind: str, p: dict[str, str]) -> tuple[int, list[FakeOrder]]:
        cid = p["listClientOrderId"]
        if cid in self.lists and not all(o.status.is_final for o in self.lists[cid][1]):
            raise OrderRejected("Duplicate order sent.", code=-2010)
        self._ids += 1
        list_id = self._ids
        if kind == "oco":
            qty = Decimal(p["quantity"])
            legs = [self._leg(p, "above", p["side"], qty, list_id),
                    self._leg(p, "below", p["side"], qty, list_id)]
            legs[0].siblings, legs[1].siblings = [legs[1]], [legs[0]]
        else:
            working = self._new(p["workingClientOrderId"], p["workingSide"], p["workingType"],
                                Decimal(p["workingQuantity"]), p["workingPrice"], None, list_id)
            pqty = Decimal(p["pendingQuantity"]) if "pendingQuantity" in p else None
            pending = [self._leg(p, pre, p["pendingSide"], pqty, list_id)
                       for pre in ("pendingAbove", "pendingBelow")]
            for leg in pending:
                leg.status = OrderStatus.PENDING_NEW
            pending[0].siblings, pending[1].siblings = [pending[1]], [pending[0]]
            working.activates = pending
            legs = [working] + pending
        self.accepted.append(cid)
        self.lists[cid] = (list_id, legs)
        return list_id, legs

    def _find(self, cid: str) -> FakeOrder:
        for order in reversed(self.orders):
            if order.client_order_id == cid:
                return order
        raise OrderNotFound("Order does not exist.", code=-2013)

    def _triggered(self, o: FakeOrder) -> Decimal | None:
        """The price the order fills at now, or None."""
        px, buy = self.price, o.side == "BUY"
        if o.type == "MARKET":
            return px
        if o.type in ("LIMIT", "LIMIT_MAKER"):
            return o.price if (px <= o.price if buy else px >= o.price) else None
        if o.type.startswith("STOP_LOSS"):
            hit = px >= o.stop_price if buy else px <= o.stop_price
        else:  # TAKE_PROFIT*
            hit = px <= o.stop_price if buy else px >= o.stop_price
        if not hit:
            return None
        return o.price if o.type.endswith("_LIMIT") else px

    def _match(self) -> None:
        changed = True
        while changed:
            changed = False
            for order in self.orders:
                working = order.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
                if working and self._room(order) > 0 and (at := self._triggered(order)) is not None:
                    self._fill(order, at)
                    changed = True

    def _room(self, order: FakeOrder) -> Decimal:
        assert order.qty is not None
        cap = next((c for s, c in self.fill_caps.items() if order.client_order_id.endswith(s)),
                   order.qty)
        return min(cap, order.qty) - order.executed

    def _fill(self, order: FakeOrder, price: Decimal) -> None:
        assert order.qty is not None
        qty = self._room(order)
        self._trades += 1
        base_fee = order.side == "BUY"
        fee = qty * self.rate if base_fee else qty * price * self.rate
        asset = self.rules.base_asset if base_fee else self.rules.quote_asset
        order.fills.append(Fill(self._trades, price, qty, fee, asset))
        order.executed, order.quote = order.executed + qty, order.quote + qty * price
        full = order.executed == order.qty
        order.status = OrderStatus.FILLED if full else (
            OrderStatus.EXPIRED if order.type == "MARKET" else OrderStatus.PARTIALLY_FILLED)
        for sibling in order.siblings:
            if not sibling.status.is_final:
                sibling.status = OrderStatus.EXPIRED
        if not full:
            return
        fees = sum((f.commission for f in order.fills if f.commission_asset == asset), Decimal(0))
        received = order.qty - fees if base_fee else order.qty
        for leg in order.activates:
            leg.status = OrderStatus.NEW
            if leg.qty is None:
                leg.qty = floor_to(received, self.rules.step_size)

    def _snap(self, o: FakeOrder, fills: bool) -> OrderSnapshot:
        return OrderSnapshot(
            symbol=self.rules.symbol, order_id=o.order_id, client_order_id=o.client_order_id,
            side=o.side, type=o.type, status=o.status, orig_qty=o.qty or Decimal(0),
            executed_qty=o.executed, cumulative_quote_qty=o.quote, price=o.price,
            stop_price=o.stop_price, order_list_id=o.list_id,
            fills=tuple(o.fills) if fills else ())

    def _list_snap(self, cid: str, list_id: int, legs: list[FakeOrder],
                   fills: bool) -> OrderListSnapshot:
        done = all(o.status.is_final for o in legs)
        return OrderListSnapshot(
            order_list_id=list_id, list_client_order_id=cid,
            contingency_type="OCO" if len(legs) == 2 else "OTO",
            list_status_type="ALL_DONE" if done else "EXEC_STARTED",
            list_order_status="ALL_DONE" if done else "EXECUTING", symbol=self.rules.symbol,
            orders=tuple(self._snap(o, fills) for o in legs))


Fault = tuple[str, BaseException]  # ("before" | "after", exception to raise)


class FaultyExchange:
    """Wraps an exchange; the Nth call (1-based, counting every protocol method) or the Nth call
    of one method raises, before or after the inner exchange executes it."""

    METHODS = ("capabilities", "market_context", "last_price", "submit", "query_order",
               "query_order_list", "cancel_order", "cancel_order_list", "open_orders", "balances")
    # passed through unwrapped and uncounted: the fault numbering of existing tests stays put
    PASSED = ("order_trades",)

    def __init__(self, inner: FakeExchange, faults: dict[int, Fault] | None = None,
                 method_faults: dict[tuple[str, int], Fault] | None = None):
        self.inner = inner
        self.faults = faults or {}
        self.method_faults = method_faults or {}
        self.calls: list[str] = []
        for name in self.METHODS:
            setattr(self, name, self._wrap(name, getattr(inner, name)))
        for name in self.PASSED:
            setattr(self, name, getattr(inner, name))

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            nth = sum(1 for c in self.calls if c == name)
            fault = self.faults.get(len(self.calls)) or self.method_faults.get((name, nth))
            if fault and fault[0] == "before":
                raise fault[1]
            result = fn(*args, **kwargs)
            if fault:
                raise fault[1]
            return result
        return call


class RecordingClock(ManualClock):
    def __init__(self) -> None:
        super().__init__()
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        super().sleep(seconds)


class RecordingHooks:
    def __init__(self, on_wait: Callable[[dict], None] | None = None):
        self.events: list[tuple[str, Any]] = []
        self.on_wait = on_wait

    def step_started(self, step: Any) -> None:
        self.events.append(("step_started", step.id))

    def order_placed(self, step: Any, snapshot: Any) -> None:
        self.events.append(("order_placed", step.id))

    def fill(self, step: Any, fill: Any) -> None:
        self.events.append(("fill", (step.id, fill.trade_id)))

    def waiting(self, status: dict) -> None:
        self.events.append(("waiting", status))
        if self.on_wait:
            self.on_wait(status)

    def step_done(self, step: Any) -> None:
        self.events.append(("step_done", step.id))

    def plan_complete(self, state: Any) -> None:
        self.events.append(("plan_complete", state.serial))

    def note(self, text: str) -> None:
        self.events.append(("note", text))

    def drift(self, record: Any) -> None:
        self.events.append(("drift", record))

    def named(self, name: str) -> list[Any]:
        return [value for kind, value in self.events if kind == name]
