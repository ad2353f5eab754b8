"""One paper order: parsing its Binance request parameters into an OrderSpec (with Binance's exact
parameter errors), the mutable-by-replacement Order record the engine keeps, its snapshot, its
JSON form, and the pure trigger/crossing rules of Binance Spot (§5 of the reference).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from typing import Any

from planrunner.errors import OrderRejected
from planrunner.exchanges.base import Fill, MarketRules, OrderSnapshot, OrderStatus
from planrunner.money import ZERO, to_decimal

TYPES = ("LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT",
         "LIMIT_MAKER")
STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
PRICED_TYPES = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
TIF_TYPES = frozenset({"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
SIDES = ("BUY", "SELL")
TIFS = ("GTC", "IOC", "FOK")
_DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_INT_RE = re.compile(r"^[0-9]{1,20}$")
_CLIENT_ID_RE = re.compile(r"^[a-zA-Z0-9-_]{1,36}$")
BIPS = Decimal(10000)


def rejected(code: int, message: str) -> OrderRejected:
    return OrderRejected(message, code=code, venue_message=message)


def mandatory(name: str) -> OrderRejected:
    return rejected(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def not_required(name: str) -> OrderRejected:
    return rejected(-1106, f"Parameter '{name}' sent when not required.")


def either(first: str, second: str) -> OrderRejected:
    return rejected(-1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!")


@dataclass(frozen=True, slots=True)
class LegNames:
    """The wire names of one order's parameters (plain order, or one leg of an order list)."""

    type: str
    side: str
    quantity: str
    price: str
    stop_price: str
    trailing_delta: str
    time_in_force: str
    client_id: str
    quote_order_qty: str | None = None

    @classmethod
    def for_leg(cls, prefix: str, *, side: str, quantity: str) -> LegNames:
        return cls(type=f"{prefix}Type", side=side, quantity=quantity, price=f"{prefix}Price",
                   stop_price=f"{prefix}StopPrice", trailing_delta=f"{prefix}TrailingDelta",
                   time_in_force=f"{prefix}TimeInForce", client_id=f"{prefix}ClientOrderId")


PLAIN = LegNames("type", "side", "quantity", "price", "stopPrice", "trailingDelta", "timeInForce",
                 "newClientOrderId", "quoteOrderQty")


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """A syntactically valid order request, before filters and engine checks."""

    symbol: str
    side: str
    type: str
    quantity: Decimal | None  # None: sized at activation (OPO pending) or by quote_order_qty
    price: Decimal | None = None
    stop_price: Decimal | None = None
    trailing_delta: int | None = None
    time_in_force: str | None = None
    client_order_id: str | None = None
    quote_order_qty: Decimal | None = None


def _text(params: Mapping[str, str], name: str | None) -> str | None:
    if name is None:
        return None
    value = params.get(name)
    return None if value is None or value == "" else value


def parse_decimal(params: Mapping[str, str], name: str, precision: int) -> Decimal | None:
    raw = _text(params, name)
    if raw is None:
        return None
    if not _DECIMAL_RE.match(raw):
        raise rejected(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                              "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.")
    value = Decimal(raw)
    if value != ZERO and -value.normalize().as_tuple().exponent > precision:
        raise rejected(-1111, f"Parameter '{name}' has too much precision.")
    return value


def parse_int(params: Mapping[str, str], name: str) -> int | None:
    raw = _text(params, name)
    if raw is None:
        return None
    if not _INT_RE.match(raw):
        raise rejected(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                              "'^[0-9]{1,20}$'.")
    return int(raw)


def parse_client_id(params: Mapping[str, str], name: str) -> str | None:
    raw = _text(params, name)
    if raw is not None and not _CLIENT_ID_RE.match(raw):
        raise rejected(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                              "'^[a-zA-Z0-9-_]{1,36}$'.")
    return raw


def _enum(params: Mapping[str, str], name: str, allowed: tuple[str, ...], code: int,
          message: str) -> str:
    raw = _text(params, name)
    if raw is None:
        raise mandatory(name)
    if raw not in allowed:
        raise rejected(code, message)
    return raw


def _check_presence(params: Mapping[str, str], names: LegNames, order_type: str,
                    sized_later: bool) -> None:
    sent = {key for key in (names.price, names.stop_price, names.trailing_delta,
                            names.time_in_force, names.quantity, names.quote_order_qty)
            if _text(params, key) is not None}
    needs = {names.price} if order_type in PRICED_TYPES else set()
    needs |= {names.time_in_force} if order_type in TIF_TYPES else set()
    if order_type not in ("MARKET",) and not sized_later:
        needs.add(names.quantity)
    for name in (names.quantity, names.price, names.time_in_force):
        if name in needs and name not in sent:
            raise mandatory(name)
    allowed = needs | ({names.stop_price, names.trailing_delta} if order_type in STOP_TYPES else set())
    if order_type == "MARKET" and not sized_later:
        allowed |= {names.quantity, names.quote_order_qty}
    for name in (names.quantity, names.price, names.stop_price, names.trailing_delta,
                 names.time_in_force, names.quote_order_qty):
        if name in sent and name not in allowed:
            raise not_required(name)
    _check_alternatives(sent, names, order_type, sized_later)


def _check_alternatives(sent: set[str | None], names: LegNames, order_type: str,
                        sized_later: bool) -> None:
    if order_type in STOP_TYPES and not sent & {names.stop_price, names.trailing_delta}:
        raise either(names.stop_price, names.trailing_delta)
    if order_type == "MARKET" and not sized_later:
        if names.quote_order_qty is None and names.quantity not in sent:
            raise mandatory(names.quantity)
        if names.quote_order_qty is not None and names.quantity not in sent \
                and names.quote_order_qty not in sent:
            raise either(names.quantity, names.quote_order_qty)
        if names.quantity in sent and names.quote_order_qty in sent:
            raise not_required(names.quote_order_qty)


def _positive(value: Decimal | None, what: str) -> Decimal | None:
    if value is not None and value <= ZERO:
        raise rejected(-1013, f"Invalid {what}.")
    return value


def parse_spec(params: Mapping[str, str], names: LegNames, rules: MarketRules, *,
               sized_later: bool = False) -> OrderSpec:
    """Read one order's parameters exactly as Binance validates them (codes -1100…-1117)."""
    order_type = _enum(params, names.type, TYPES, -1116, "Invalid orderType.")
    side = _enum(params, names.side, SIDES, -1117, "Invalid side.")
    tif = _text(params, names.time_in_force)
    if tif is not None and tif not in TIFS:
        raise rejected(-1115, "Invalid timeInForce.")
    _check_presence(params, names, order_type, sized_later)
    qty_precision, price_precision = rules.base_asset_precision, rules.quote_asset_precision
    return OrderSpec(
        symbol=rules.symbol, side=side, type=order_type,
        quantity=_positive(parse_decimal(params, names.quantity, qty_precision), "quantity"),
        price=_positive(parse_decimal(params, names.price, price_precision), "price"),
        stop_price=_positive(parse_decimal(params, names.stop_price, price_precision), "stopPrice"),
        trailing_delta=parse_int(params, names.trailing_delta),
        time_in_force=tif,
        client_order_id=parse_client_id(params, names.client_id),
        quote_order_qty=_positive(parse_decimal(params, names.quote_order_qty, price_precision)
                                  if names.quote_order_qty else None, "quoteOrderQty"))


def rises_to_trigger(order_type: str, side: str) -> bool:
    """STOP_LOSS BUY and TAKE_PROFIT SELL fire when the price rises to the stop (§5)."""
    return order_type.startswith("STOP_LOSS") == (side == "BUY")


def stop_reached(order_type: str, side: str, stop_price: Decimal, price: Decimal) -> bool:
    return price >= stop_price if rises_to_trigger(order_type, side) else price <= stop_price


def crosses(side: str, limit: Decimal, price: Decimal) -> bool:
    """A limit order trades at `price`: a buy when price <= limit, a sell when price >= limit."""
    return price <= limit if side == "BUY" else price >= limit


def trailing_fired(side: str, extreme: Decimal, delta: int, price: Decimal) -> bool:
    """SELL: a drop of delta BIPS from the high; BUY: a rise of delta BIPS from the low."""
    if side == "SELL":
        return price <= extreme * (BIPS - delta) / BIPS
    return price >= extreme * (BIPS + delta) / BIPS


@dataclass(frozen=True, slots=True)
class Order:
    """The engine's record of one order. Replaced, never mutated."""

    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    status: OrderStatus
    orig_qty: Decimal
    price: Decimal = ZERO
    stop_price: Decimal = ZERO
    trailing_delta: int | None = None
    time_in_force: str = ""
    orig_quote_order_qty: Decimal = ZERO
    executed_qty: Decimal = ZERO
    cumulative_quote_qty: Decimal = ZERO
    order_list_id: int = -1
    time_ms: int = 0
    update_time_ms: int = 0
    expiry_reason: str | None = None
    triggered: bool = False  # a stop that fired now works as its LIMIT / MARKET form
    trail_extreme: Decimal | None = None  # trailing watermark once tracking has started
    hold_key: str | None = None  # the Ledger hold this order spends from

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def is_stop(self) -> bool:
        return self.type in STOP_TYPES

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def limit_form(self) -> bool:
        """Works as a limit order at `price` once live (LIMIT, LIMIT_MAKER, triggered *_LIMIT)."""
        return self.type in PRICED_TYPES

    def with_(self, **changes: Any) -> Order:
        return replace(self, **changes)

    def snapshot(self, fills: tuple[Fill, ...] = ()) -> OrderSnapshot:
        return OrderSnapshot(
            symbol=self.symbol, order_id=self.order_id, client_order_id=self.client_order_id,
            side=self.side, type=self.type, status=self.status, orig_qty=self.orig_qty,
            executed_qty=self.executed_qty, cumulative_quote_qty=self.cumulative_quote_qty,
            price=self.price, stop_price=self.stop_price, time_in_force=self.time_in_force,
            order_list_id=self.order_list_id, trailing_delta=self.trailing_delta,
            orig_quote_order_qty=self.orig_quote_order_qty, time_ms=self.time_ms,
            update_time_ms=self.update_time_ms, expiry_reason=self.expiry_reason, fills=fills)


_DECIMAL_FIELDS = frozenset({"orig_qty", "price", "stop_price", "orig_quote_order_qty",
                             "executed_qty", "cumulative_quote_qty", "trail_extreme"})


def order_to_dict(order: Order) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(Order):
        value = getattr(order, f.name)
        out[f.name] = str(value) if isinstance(value, (Decimal, OrderStatus)) else value
    return out


def order_from_dict(data: Mapping[str, Any]) -> Order:
    values: dict[str, Any] = {}
    for f in fields(Order):
        if f.name not in data:
            continue
        raw = data[f.name]
        if f.name in _DECIMAL_FIELDS:
            values[f.name] = None if raw is None else to_decimal(raw)
        elif f.name == "status":
            values[f.name] = OrderStatus(raw)
        else:
            values[f.name] = raw
    return Order(**values)


def fill_to_dict(fill: Fill) -> dict[str, Any]:
    return {"trade_id": fill.trade_id, "price": str(fill.price), "qty": str(fill.qty),
            "commission": str(fill.commission), "commission_asset": fill.commission_asset,
            "time_ms": fill.time_ms, "is_maker": fill.is_maker}


def fill_from_dict(data: Mapping[str, Any]) -> Fill:
    return Fill(trade_id=int(data["trade_id"]), price=to_decimal(data["price"]),
                qty=to_decimal(data["qty"]), commission=to_decimal(data["commission"]),
                commission_asset=str(data["commission_asset"]), time_ms=int(data["time_ms"]),
                is_maker=bool(data["is_maker"]))


def spec_of(order: Order) -> OrderSpec:
    """The request an order stands for (used to re-validate a pending leg at activation)."""
    return OrderSpec(symbol=order.symbol, side=order.side, type=order.type, quantity=order.orig_qty,
                     price=order.price if order.type in PRICED_TYPES else None,
                     stop_price=order.stop_price if order.stop_price > ZERO else None,
                     trailing_delta=order.trailing_delta, time_in_force=order.time_in_force or None,
                     client_order_id=order.client_order_id)


def hold_need(spec: OrderSpec, rules: MarketRules, last: Decimal | None) -> tuple[str, Decimal]:
    """What a resting order locks: base for a SELL; quantity times its price for a BUY (the stop
    price, or the last price, for a stop that becomes MARKET)."""
    qty = spec.quantity or ZERO
    if spec.side == "SELL":
        return rules.base_asset, qty
    unit = spec.price if spec.price is not None else spec.stop_price
    if unit is None:
        unit = last if last is not None else ZERO
    return rules.quote_asset, qty * unit


def pick_order(orders: list[Order], symbol: str, client_id: str | None,
               order_id: int | None) -> Order | None:
    """Binance's lookup: by orderId (the client id must then match), else by client id, where
    an open order wins over finished ones that used the same id before."""
    if client_id is None and order_id is None:
        raise either("origClientOrderId", "orderId")
    if order_id is not None:
        found = [o for o in orders if o.order_id == order_id]
        if found and client_id is not None and found[0].client_order_id != client_id:
            raise rejected(-2039, "Client order ID is not correct for this order ID.")
        candidates = [o for o in found if o.symbol == symbol]
    else:
        candidates = [o for o in orders if o.symbol == symbol and o.client_order_id == client_id]
    open_ones = [o for o in candidates if o.is_open]
    return (open_ones or candidates or [None])[-1]
