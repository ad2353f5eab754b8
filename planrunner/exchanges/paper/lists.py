"""Order lists (OCO, OTO, OTOCO, OPO, OPOCO): parsing a list request into leg specs with Binance's
leg-placement errors, the OCO price-relationship rules (§4.3), and the list record with its
snapshot and JSON form. Execution of the legs lives in matching.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any, Mapping

from planrunner.exchanges.base import MarketRules, OrderListSnapshot, OrderSnapshot
from planrunner.exchanges.paper.orders import (
    TYPES, LegNames, OrderSpec, mandatory, parse_client_id, parse_spec, rejected)


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
