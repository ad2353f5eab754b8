"""Order lists (OCO, OTO, OTOCO, OPO, OPOCO): parsing a list request into leg specs with Binance's
leg-placement errors, the OCO price-relationship rules (§4.3), the list record with its snapshot
and JSON form, and the list contingencies the matching engine mixes in (one-cancels-other,
arming pending legs after the working order fills).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from planrunner.errors import OrderRejected
from planrunner.exchanges.base import (
    Fill, MarketRules, OrderListSnapshot, OrderSnapshot, OrderStatus)
from planrunner.exchanges.paper.balances import Ledger
from planrunner.exchanges.paper.filters import (
    check_counts, check_features, check_filters, check_symbol, count_new, failure)
from planrunner.exchanges.paper.orders import (
    TYPES, LegNames, Order, OrderSpec, hold_need, mandatory, parse_client_id, parse_spec, rejected,
    spec_of)
from planrunner.money import ZERO, floor_to

if TYPE_CHECKING:
    from planrunner.exchanges.paper.filters import OpenCounts


class ListKind(StrEnum):
    OCO = "OCO"
    OTO = "OTO"
    OTOCO = "OTOCO"
    OPO = "OPO"
    OPOCO = "OPOCO"

    @property
    def contingency_type(self) -> str:
        return "OCO" if self is ListKind.OCO else "OTO"

    @property
    def sized_by_fill(self) -> bool:
        return self in (ListKind.OPO, ListKind.OPOCO)

    @property
    def has_oco(self) -> bool:
        return self in (ListKind.OCO, ListKind.OTOCO, ListKind.OPOCO)


LIST_PATHS = {f"/api/v3/orderList/{kind.value.lower()}": kind for kind in ListKind}
_OCO_TYPES = ("STOP_LOSS_LIMIT", "STOP_LOSS", "LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_WORKING_TYPES = ("LIMIT", "LIMIT_MAKER")
RELATIONSHIP = "The relationship of the prices for the orders is not correct."
DUPLICATE = "Duplicate order sent."
_LIST_FLAGS = {ListKind.OCO: ("oco",), ListKind.OTO: ("oto",), ListKind.OTOCO: ("oto", "oco"),
               ListKind.OPO: ("oto", "opo"), ListKind.OPOCO: ("oto", "opo", "oco")}
_FLAG_OFF = {"oco": "OCO orders are not supported for this symbol",
             "oto": "OTO orders are not supported for this symbol.",
             "opo": "OPO orders are not supported for this symbol."}


@dataclass(frozen=True, slots=True)
class ListRequest:
    """A parsed list request. OCO has no working leg; its two legs are `pending` and live at once."""

    kind: ListKind
    list_client_order_id: str | None
    working: OrderSpec | None
    pending: tuple[OrderSpec, ...]


def _leg_type(params: Mapping[str, str], name: str, allowed: tuple[str, ...], code: int,
              message: str) -> None:
    raw = params.get(name)
    if raw is None or raw == "":
        raise mandatory(name)
    if raw in TYPES and raw not in allowed:
        raise rejected(code, message)


def _oco_legs(params: Mapping[str, str], rules: MarketRules, prefix: str, side: str,
              quantity: str, sized: bool) -> tuple[OrderSpec, OrderSpec]:
    legs = []
    for position in ("Above", "Below"):
        name = f"{prefix}{position}" if prefix else position.lower()
        _leg_type(params, f"{name}Type", _OCO_TYPES, -1158, "Order type not supported in OCO.")
        names = LegNames.for_leg(name, side=side, quantity=quantity)
        legs.append(parse_spec(params, names, rules, sized_later=sized))
    above, below = legs
    check_oco_types(above, below)
    check_oco_prices(above, below, None)
    return above, below


def _working(params: Mapping[str, str], rules: MarketRules) -> OrderSpec:
    _leg_type(params, "workingType", _WORKING_TYPES, -1014, "Unsupported order combination.")
    names = LegNames.for_leg("working", side="workingSide", quantity="workingQuantity")
    return parse_spec(params, names, rules)


def parse_list(kind: ListKind, params: Mapping[str, str], rules: MarketRules) -> ListRequest:
    """Read an orderList request's legs (codes -1102, -1106, -1116…, -1158, -116x, -119x, -122x)."""
    list_id = parse_client_id(params, "listClientOrderId")
    if kind is ListKind.OCO:
        legs = _oco_legs(params, rules, "", "side", "quantity", sized=False)
        return ListRequest(kind, list_id, None, legs)
    working = _working(params, rules)
    sized = kind.sized_by_fill
    if kind.has_oco:
        pending = _oco_legs(params, rules, "pending", "pendingSide", "pendingQuantity", sized)
    else:
        names = LegNames.for_leg("pending", side="pendingSide", quantity="pendingQuantity")
        pending = (parse_spec(params, names, rules, sized_later=sized),)
    if sized and working.side != "BUY":
        raise rejected(-1222, "Working order in an OPO list must be a bid.")
    if sized and any(leg.side != "SELL" for leg in pending):
        raise rejected(-1223, "Pending orders in an OPO list must be asks.")
    return ListRequest(kind, list_id, working, pending)


def check_oco_types(above: OrderSpec, below: OrderSpec) -> None:
    """Which leg may sit where (-1165…-1199): a SELL OCO has its stop below, a BUY OCO above."""
    if above.type == "LIMIT_MAKER" and below.type == "LIMIT_MAKER":
        raise rejected(-1168, "At least one OCO order must be contingent.")
    if above.side == "SELL":
        if above.type.startswith("STOP_LOSS"):
            raise rejected(-1197, "A stop loss order in a sell OCO must be below.")
        if below.type == "LIMIT_MAKER":
            raise rejected(-1166, "A limit order in a sell OCO must be above.")
        if below.type.startswith("TAKE_PROFIT"):
            raise rejected(-1199, "A take profit order in a sell OCO must be above.")
    else:
        if below.type.startswith("STOP_LOSS"):
            raise rejected(-1196, "A stop loss order in a buy OCO must be above.")
        if above.type == "LIMIT_MAKER":
            raise rejected(-1165, "A limit order in a buy OCO must be below.")
        if above.type.startswith("TAKE_PROFIT"):
            raise rejected(-1198, "A take profit order in a buy OCO must be below.")


def _level(leg: OrderSpec) -> Decimal | None:
    """The price that decides a leg's side of the market: limit price for LIMIT_MAKER and
    TAKE_PROFIT_LIMIT, stop price for the others (None for a trailing-only leg)."""
    if leg.type in ("LIMIT_MAKER", "TAKE_PROFIT_LIMIT"):
        return leg.price
    return leg.stop_price


def check_oco_prices(above: OrderSpec, below: OrderSpec, last: Decimal | None) -> None:
    """above level > last price > below level, for both sides (§4.3). `last` None: legs only."""
    high, low = _level(above), _level(below)
    wrong = high is not None and low is not None and high <= low
    if last is not None:
        wrong = wrong or (high is not None and high <= last) or (low is not None and low >= last)
    if wrong:
        raise rejected(-2010, RELATIONSHIP)


@dataclass(frozen=True, slots=True)
class OrderList:
    """The engine's record of one list. `oco_ids` are the legs that cancel each other."""

    order_list_id: int
    list_client_order_id: str
    kind: ListKind
    symbol: str
    order_ids: tuple[int, ...]
    working_id: int | None = None
    oco_ids: tuple[int, ...] = ()
    all_done: bool = False
    transaction_time_ms: int = 0

    @property
    def pending_ids(self) -> tuple[int, ...]:
        return tuple(i for i in self.order_ids if i != self.working_id)

    def with_ids(self, order_ids: tuple[int, ...], working_id: int | None, *,
                 kind_oco: bool) -> OrderList:
        pending = tuple(i for i in order_ids if i != working_id)
        return replace(self, order_ids=order_ids, working_id=working_id,
                       oco_ids=pending if kind_oco else ())

    def done(self, now_ms: int) -> OrderList:
        return replace(self, all_done=True, transaction_time_ms=now_ms)

    def snapshot(self, orders: tuple[OrderSnapshot, ...]) -> OrderListSnapshot:
        status = "ALL_DONE" if self.all_done else "EXEC_STARTED"
        return OrderListSnapshot(
            order_list_id=self.order_list_id, list_client_order_id=self.list_client_order_id,
            contingency_type=self.kind.contingency_type, list_status_type=status,
            list_order_status="ALL_DONE" if self.all_done else "EXECUTING", symbol=self.symbol,
            orders=orders, transaction_time_ms=self.transaction_time_ms)

    def to_dict(self) -> dict[str, Any]:
        return {"order_list_id": self.order_list_id, "list_client_order_id": self.list_client_order_id,
                "kind": self.kind.value, "symbol": self.symbol, "order_ids": list(self.order_ids),
                "working_id": self.working_id, "oco_ids": list(self.oco_ids),
                "all_done": self.all_done, "transaction_time_ms": self.transaction_time_ms}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OrderList:
        working = data.get("working_id")
        return cls(order_list_id=int(data["order_list_id"]),
                   list_client_order_id=str(data["list_client_order_id"]),
                   kind=ListKind(data["kind"]), symbol=str(data["symbol"]),
                   order_ids=tuple(int(i) for i in data["order_ids"]),
                   working_id=None if working is None else int(working),
                   oco_ids=tuple(int(i) for i in data["oco_ids"]),
                   all_done=bool(data["all_done"]),
                   transaction_time_ms=int(data["transaction_time_ms"]))


def pick_list(lists: list[OrderList], client_id: str | None,
              list_id: int | None) -> OrderList | None:
    """By orderListId and/or listClientOrderId; an open list wins over finished namesakes."""
    if client_id is None and list_id is None:
        raise rejected(-1102, "Param 'origClientOrderId' or 'orderListId' must be sent, "
                              "but both were empty/null!")
    found = [lst for lst in lists if (list_id is None or lst.order_list_id == list_id)
             and (client_id is None or lst.list_client_order_id == client_id)]
    open_ones = [lst for lst in found if not lst.all_done]
    return (open_ones or found or [None])[-1]


class ListContingencies:
    """The order-list half of MatchingEngine: placing lists, one-cancels-other, arming pending
    legs after the working order fills (sized from the fill for OPO). Mixed into MatchingEngine,
    whose state and single-order helpers it uses."""

    _rules: dict[str, MarketRules]
    _orders: dict[int, Order]
    _lists: dict[int, OrderList]
    _fills: dict[int, list[Fill]]
    _prices: dict[str, Decimal]
    _ledger: Ledger

    if TYPE_CHECKING:  # single-order helpers MatchingEngine provides
        def _rules_for(self, symbol: str | None) -> MarketRules: ...
        def _counts(self, symbol: str) -> OpenCounts: ...
        def _check_engine(self, spec: OrderSpec, last: Decimal | None) -> None: ...
        def _check_client_ids(self, symbol: str, specs: tuple[OrderSpec, ...]) -> None: ...
        def _check_funds(self, needs: list[tuple[str, Decimal]]) -> None: ...
        def _create(self, spec: OrderSpec, qty: Decimal | None, now_ms: int, *, list_id: int = -1,
                    pending: bool = False, hold_key: str | None = None) -> Order: ...
        def _start(self, order: Order, now_ms: int) -> None: ...
        def _expire(self, order: Order, reason: str, now_ms: int) -> None: ...
        def _put(self, order: Order) -> None: ...
        def _next(self, name: str) -> int: ...
        def _client_id(self) -> str: ...
        def _snapshot(self, order: Order) -> OrderSnapshot: ...
        def _list_snapshot(self, lst: OrderList) -> OrderListSnapshot: ...

    def _submit_list(self, kind: ListKind, params: Mapping[str, str],
                     now_ms: int) -> OrderListSnapshot:
        rules = self._rules_for(params.get("symbol"))
        check_symbol(rules)
        for flag in _LIST_FLAGS[kind]:
            if not getattr(rules, f"{flag}_allowed"):
                raise rejected(-2010, _FLAG_OFF[flag])
        req = parse_list(kind, params, rules)
        self._validate_list(req, rules)
        return self._place_list(req, rules, now_ms)

    def _validate_list(self, req: ListRequest, rules: MarketRules) -> None:
        last = self._prices.get(rules.symbol)
        legs = ((req.working,) if req.working else ()) + req.pending
        for spec in legs:
            check_features(spec, rules)
            check_filters(spec, rules, last)
        check_counts(rules, self._counts(rules.symbol), count_new(legs, 1))
        if req.kind is ListKind.OCO:
            check_oco_prices(req.pending[0], req.pending[1], last)
        for spec in legs if req.working is None else (req.working,):
            self._check_engine(spec, last)
        open_lists = {lst.list_client_order_id for lst in self._lists.values() if not lst.all_done}
        if req.list_client_order_id in open_lists:
            raise rejected(-2010, DUPLICATE)
        self._check_client_ids(rules.symbol, legs)
        live = (req.working,) if req.working else req.pending
        self._check_funds([self._shared_need(live, rules)])

    def _shared_need(self, legs: tuple[OrderSpec, ...], rules: MarketRules) -> tuple[str, Decimal]:
        """OCO legs share one lock: the larger of the two legs' needs."""
        needs = [hold_need(leg, rules, self._prices.get(rules.symbol)) for leg in legs]
        return needs[0][0], max(amount for _, amount in needs)

    def _place_list(self, req: ListRequest, rules: MarketRules, now_ms: int) -> OrderListSnapshot:
        list_id = self._next("order_list_id")
        lst = OrderList(order_list_id=list_id, kind=req.kind, symbol=rules.symbol,
                        list_client_order_id=req.list_client_order_id or self._client_id(),
                        order_ids=(), transaction_time_ms=now_ms)
        if req.working is None:
            asset, amount = self._shared_need(req.pending, rules)
            self._ledger.hold(f"l{list_id}", asset, amount)
            legs = [self._create(s, s.quantity, now_ms, list_id=list_id, hold_key=f"l{list_id}")
                    for s in req.pending]
            lst = lst.with_ids(tuple(o.order_id for o in legs), None, kind_oco=True)
            self._lists[list_id] = lst
            return self._list_snapshot(lst)
        working = self._create(req.working, req.working.quantity, now_ms, list_id=list_id)
        pending = [self._create(s, s.quantity, now_ms, list_id=list_id, pending=True)
                   for s in req.pending]
        ids = (working.order_id,) + tuple(o.order_id for o in pending)
        self._lists[list_id] = lst.with_ids(ids, working.order_id, kind_oco=req.kind.has_oco)
        # Binance answers with the pending legs as PENDING_NEW even when the working order
        # fills at once; callers re-query to see them armed.
        reported = {o.order_id: self._snapshot(o) for o in pending}
        self._start(working, now_ms)
        orders = (self._snapshot(self._orders[working.order_id]),) + tuple(reported.values())
        return self._lists[list_id].snapshot(orders)

    def _list_event(self, order: Order, now_ms: int) -> None:
        """An order in a list started working, filled or ended: apply the list's contingencies."""
        if order.order_list_id < 0:
            return
        lst = self._lists[order.order_list_id]
        started = order.triggered or order.executed_qty > ZERO
        if order.order_id in lst.oco_ids and started:
            for other in lst.oco_ids:
                if other != order.order_id and self._orders[other].is_open:
                    self._expire(self._orders[other], "OCO_TRIGGER", now_ms)
        if order.order_id == lst.working_id and not order.is_open:
            if order.status is OrderStatus.FILLED:
                self._activate(lst, now_ms)
            else:
                for leg_id in lst.pending_ids:
                    if self._orders[leg_id].is_open:
                        self._expire(self._orders[leg_id], "OTO_PHASE_ONE_EXPIRED", now_ms)
        self._maybe_done(self._lists[order.order_list_id], now_ms)

    def _activate(self, lst: OrderList, now_ms: int) -> None:
        """The working order is fully filled: size (OPO), re-validate, lock and arm the legs."""
        rules = self._rules[lst.symbol]
        legs = [self._orders[i] for i in lst.pending_ids]
        if lst.kind.sized_by_fill:
            qty = floor_to(self._received_base(lst.working_id or 0), rules.step_size)
            legs = [leg.with_(orig_qty=qty) for leg in legs]
        try:
            self._validate_activation(lst, legs, rules)
        except OrderRejected:
            for leg in legs:
                self._expire(leg, "REJECTED", now_ms)
            return
        key = f"l{lst.order_list_id}" if len(legs) > 1 else f"o{legs[0].order_id}"
        asset, amount = self._shared_need(tuple(spec_of(leg) for leg in legs), rules)
        self._ledger.hold(key, asset, amount)
        for leg in legs:
            self._put(leg.with_(status=OrderStatus.NEW, hold_key=key, update_time_ms=now_ms))
        for leg in legs:
            if self._orders[leg.order_id].is_open:
                self._start(self._orders[leg.order_id], now_ms)

    def _validate_activation(self, lst: OrderList, legs: list[Order], rules: MarketRules) -> None:
        last = self._prices.get(lst.symbol)
        specs = tuple(spec_of(leg) for leg in legs)
        for spec in specs:
            if spec.quantity is None or spec.quantity <= ZERO:
                raise failure("LOT_SIZE")
            check_filters(spec, rules, last)
            self._check_engine(spec, last)
        if len(specs) == 2:
            check_oco_prices(specs[0], specs[1], last)
        self._check_funds([self._shared_need(specs, rules)])

    def _received_base(self, order_id: int) -> Decimal:
        order = self._orders[order_id]
        base = self._rules[order.symbol].base_asset
        paid = sum((f.commission for f in self._fills.get(order_id, ()) if f.commission_asset == base),
                   ZERO)
        return order.executed_qty - paid

    def _maybe_done(self, lst: OrderList, now_ms: int) -> None:
        if not lst.all_done and all(not self._orders[i].is_open for i in lst.order_ids):
            self._lists[lst.order_list_id] = lst.done(now_ms)
