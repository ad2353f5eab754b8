"""Order legs on the wire and against the symbol's filters: builds the Binance request of an order
or order list from its legs, and checks each leg at every price it trades at, producing messages
that name the filter, the value, the allowed value and what to change.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from planrunner.actions import Deferred, Leg, LegRole, ParamValue, RequestTemplate
from planrunner.exchanges.base import MarketContext, MarketRules
from planrunner.money import ZERO, ceil_to, fmt

ORDER_PATH = "/api/v3/order"
LIST_PATH = "/api/v3/orderList"
STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
MARKET_LIKE = frozenset({"MARKET", "STOP_LOSS", "TAKE_PROFIT"})  # trade at a market price

Value = Decimal | Deferred | None


def _wire(value: Decimal | Deferred | int) -> ParamValue:
    if isinstance(value, Deferred):
        return value
    if isinstance(value, int):
        return str(value)
    return fmt(value)


def _key(prefix: str, name: str) -> str:
    return prefix + name if prefix else name[0].lower() + name[1:]


def _leg_params(prefix: str, leg: Leg, *, side: bool, qty: bool, cid: str) -> list[tuple[str, ParamValue]]:
    fields: list[tuple[str, object]] = [("Type", leg.type)]
    if side:
        fields.append(("Side", leg.side))
    fields.append((cid, leg.client_order_id))
    if qty:
        fields.append(("Quantity", leg.quantity))
    fields += [("Price", leg.price), ("StopPrice", leg.stop_price),
               ("TrailingDelta", leg.trailing_delta), ("TimeInForce", leg.time_in_force)]
    return [(_key(prefix, name), v if isinstance(v, str) else _wire(v))
            for name, v in fields if v is not None]


def order_request(symbol: str, leg: Leg) -> RequestTemplate:
    """POST /api/v3/order for one leg (MARKET by quantity or quoteOrderQty, LIMIT, stops)."""
    params: list[tuple[str, ParamValue]] = [("symbol", symbol), ("side", leg.side), ("type", leg.type)]
    if leg.time_in_force:
        params.append(("timeInForce", leg.time_in_force))
    if leg.quote_quantity is not None:
        params.append(("quoteOrderQty", _wire(leg.quote_quantity)))
    elif leg.quantity is not None:
        params.append(("quantity", _wire(leg.quantity)))
    for name, value in (("price", leg.price), ("stopPrice", leg.stop_price),
                        ("trailingDelta", leg.trailing_delta)):
        if value is not None:
            params.append((name, _wire(value)))
    params += [("newClientOrderId", leg.client_order_id), ("newOrderRespType", "FULL")]
    return RequestTemplate("POST", ORDER_PATH, tuple(params))


def oco_request(symbol: str, list_id: str, above: Leg, below: Leg) -> RequestTemplate:
    """POST /api/v3/orderList/oco: both legs share side and quantity."""
    assert above.quantity is not None
    params: list[tuple[str, ParamValue]] = [
        ("symbol", symbol), ("listClientOrderId", list_id), ("side", above.side),
        ("quantity", _wire(above.quantity))]
    params += _leg_params("above", above, side=False, qty=False, cid="ClientOrderId")
    params += _leg_params("below", below, side=False, qty=False, cid="ClientOrderId")
    params.append(("newOrderRespType", "FULL"))
    return RequestTemplate("POST", f"{LIST_PATH}/oco", tuple(params))


def triggered_request(symbol: str, list_id: str, working: Leg, pending: tuple[Leg, ...],
                      *, by_fill: bool) -> RequestTemplate:
    """OTO / OTOCO (pendingQuantity given) or OPO / OPOCO (by_fill: the exchange sizes the
    pending legs from what the working order actually received)."""
    kind = ("opo" if by_fill else "oto") + ("co" if len(pending) == 2 else "")
    params: list[tuple[str, ParamValue]] = [("symbol", symbol), ("listClientOrderId", list_id)]
    params += _leg_params("working", working, side=True, qty=True, cid="ClientOrderId")
    if len(pending) == 1:
        params += _leg_params("pending", pending[0], side=True, qty=not by_fill, cid="ClientOrderId")
    else:
        params.append(("pendingSide", pending[0].side))
        if not by_fill:
            assert pending[0].quantity is not None
            params.append(("pendingQuantity", _wire(pending[0].quantity)))
        params += _leg_params("pendingAbove", pending[0], side=False, qty=False, cid="ClientOrderId")
        params += _leg_params("pendingBelow", pending[1], side=False, qty=False, cid="ClientOrderId")
    params.append(("newOrderRespType", "FULL"))
    return RequestTemplate("POST", f"{LIST_PATH}/{kind}", tuple(params))


def cancel_request(symbol: str, client_id: str, *, is_list: bool) -> RequestTemplate:
    if is_list:
        return RequestTemplate("DELETE", LIST_PATH, (("symbol", symbol), ("listClientOrderId", client_id)))
    return RequestTemplate("DELETE", ORDER_PATH, (("symbol", symbol), ("origClientOrderId", client_id)))


# ---- people's view of legs --------------------------------------------------------------------

def ordered(tp: Leg | None, stop: Leg | None, exit_side: str) -> tuple[Leg, ...]:
    """OCO (above, below): SELL exits put the take-profit above, BUY exits the stop above."""
    pair = (tp, stop) if exit_side == "SELL" else (stop, tp)
    return tuple(leg for leg in pair if leg is not None)


def _describe(leg: Leg) -> str:
    qty = _show(leg.quantity) if leg.quantity is not None else "all"
    text = f"{leg.side} {qty} {leg.type}"
    if leg.quote_quantity is not None:
        text = f"{leg.side} {fmt(leg.quote_quantity)} quote {leg.type}"
    if leg.stop_price is not None:
        text += f" trigger {_show(leg.stop_price)}"
    if leg.trailing_delta is not None:
        text += f" trailing {leg.trailing_delta} BIPS"
    if leg.price is not None:
        text += f" @ {_show(leg.price)}"
    return text


def _show(value: Decimal | Deferred) -> str:
    return str(value) if isinstance(value, Deferred) else fmt(value)


def summary(prefix: str, legs: tuple[Leg, ...]) -> str:
    return f"{prefix}: " + "; ".join(_describe(leg) for leg in legs)


def label(role: LegRole, i: int | None) -> str:
    word = {LegRole.ENTRY: "entry", LegRole.TAKE_PROFIT: "take-profit", LegRole.STOP: "stop"}[role]
    return word if i is None else f"{word} slice {i}"


# ---- substitution of after-fill values ----------------------------------------------------------

def substitute_leg(leg: Leg, values: dict[Deferred, Decimal]) -> Leg:
    def sub(v: Value) -> Value:
        return values[v] if isinstance(v, Deferred) else v
    return dataclasses.replace(leg, quantity=sub(leg.quantity), price=sub(leg.price),
                               stop_price=sub(leg.stop_price))


def substitute_request(request: RequestTemplate, values: dict[Deferred, Decimal]) -> RequestTemplate:
    params = tuple((k, fmt(values[v]) if isinstance(v, Deferred) else v) for k, v in request.params)
    return dataclasses.replace(request, params=params)


# ---- filter checks -----------------------------------------------------------------------------

def _num(value: Value) -> Decimal | None:
    return value.estimate if isinstance(value, Deferred) else value


def _trade_price(leg: Leg, last: Decimal) -> Decimal:
    """The price a leg trades at: its limit, else its trigger (stop market), else the market."""
    return _num(leg.price) or _num(leg.stop_price) or last


def check_leg(leg: Leg, label: str, market: MarketContext, trigger_ref: Decimal | None) -> list[str]:
    """Every filter problem of one leg. trigger_ref: the price the leg meets when it is placed
    (last price, or the entry price for legs armed by the entry fill); None skips that check."""
    rules = market.rules
    problems = _check_type(leg, label, rules)
    problems += _check_quantity(leg, label, rules)
    problems += _check_prices(leg, label, market)
    problems += _check_notional(leg, label, market)
    problems += _check_trailing(leg, label, rules)
    problems += _check_stop_limit(leg, label, rules)
    if trigger_ref is not None:
        problems += _check_immediate(leg, label, trigger_ref)
    return problems


_TYPE_HINTS = {
    "MARKET": "use a limit entry",
    "LIMIT": "use a market entry",
    "LIMIT_MAKER": "drop the take-profits",
    "STOP_LOSS": "use stop type: limit",
    "STOP_LOSS_LIMIT": "use stop type: market",
}


def _check_type(leg: Leg, label: str, rules: MarketRules) -> list[str]:
    if rules.allows(leg.type):
        return []
    allowed = ", ".join(sorted(rules.order_types)) or "none"
    hint = _TYPE_HINTS.get(leg.type, "change the plan")
    return [f"{label} needs a {leg.type} order, which {rules.symbol} does not allow "
            f"(it allows {allowed}): {hint}"]


def _check_quantity(leg: Leg, label: str, rules: MarketRules) -> list[str]:
    qty = _num(leg.quantity)
    if qty is None:
        return []
    market = leg.type == "MARKET"
    name = "MARKET_LOT_SIZE" if market and rules.market_min_qty + rules.market_max_qty > 0 else "LOT_SIZE"
    low = rules.effective_market_min_qty if market else rules.min_qty
    high = rules.effective_market_max_qty if market else rules.max_qty
    base = rules.base_asset
    if qty <= ZERO or (low > 0 and qty < low):
        return [f"{label} quantity {fmt(qty)} {base} (after rounding down to the step) is under "
                f"{rules.symbol}'s {name} minimum {fmt(max(low, ZERO))} {base}: raise the quantity "
                f"or use fewer take-profit slices"]
    if high > 0 and qty > high:
        return [f"{label} quantity {fmt(qty)} {base} is over {rules.symbol}'s {name} maximum "
                f"{fmt(high)} {base}: lower the quantity or split the trade into several plans"]
    return []


def _check_prices(leg: Leg, label: str, market: MarketContext) -> list[str]:
    problems = []
    for what, value in (("price", _num(leg.price)), ("stop price", _num(leg.stop_price))):
        if value is not None:
            problems += _price_filter(value, f"{label} {what}", market.rules)
    price = _num(leg.price)
    if price is not None:
        problems += _percent_price(price, leg.side, label, market)
    return problems


def _price_filter(value: Decimal, label: str, rules: MarketRules) -> list[str]:
    low, high = rules.min_price, rules.max_price
    if value <= ZERO or (low > 0 and value < low) or (high > 0 and value > high):
        bounds = f"{fmt(low)} to {fmt(high)}" if high > 0 else f"at least {fmt(low)}"
        return [f"{label} {fmt(value)} is outside {rules.symbol}'s PRICE_FILTER range {bounds} "
                f"{rules.quote_asset}: change that price"]
    return []


def _percent_price(price: Decimal, side: str, label: str, market: MarketContext) -> list[str]:
    rules, last = market.rules, market.last_price
    down, up = ((rules.bid_multiplier_down, rules.bid_multiplier_up) if side == "BUY"
                else (rules.ask_multiplier_down, rules.ask_multiplier_up))
    low, high = last * down, last * up
    if (down > 0 and price < low) or (up > 0 and price > high):
        return [f"{label} price {fmt(price)} is outside {rules.symbol}'s PERCENT_PRICE_BY_SIDE band "
                f"for {side} orders, {fmt(low)} to {fmt(high)} (last price {fmt(last)} x "
                f"{fmt(down)}..{fmt(up)}): move the price closer to the market"]
    return []


def _check_notional(leg: Leg, label: str, market: MarketContext) -> list[str]:
    rules = market.rules
    qty = _num(leg.quantity)
    if leg.quote_quantity is None and (qty is None or qty <= ZERO):
        return []
    market_like = leg.type in MARKET_LIKE
    price = _trade_price(leg, market.last_price)
    notional = leg.quote_quantity if leg.quote_quantity is not None else qty * price
    quote, base = rules.quote_asset, rules.base_asset
    shown = (f"{fmt(leg.quote_quantity)} {quote}" if leg.quote_quantity is not None
             else f"{fmt(qty)} {base} x {fmt(price)} = {fmt(notional)} {quote}")
    check_min = rules.min_notional > 0 and (rules.apply_min_to_market or not market_like)
    if check_min and notional < rules.min_notional:
        need = ceil_to(rules.min_notional / price, rules.step_size)
        return [f"{label} is {shown}, under {rules.symbol}'s minimum notional "
                f"{fmt(rules.min_notional)} {quote}: raise the quantity so this order is at least "
                f"{fmt(need)} {base}, or use fewer take-profit slices"]
    check_max = rules.max_notional > 0 and (rules.apply_max_to_market or not market_like)
    if check_max and notional > rules.max_notional:
        return [f"{label} is {shown}, over {rules.symbol}'s maximum notional "
                f"{fmt(rules.max_notional)} {quote}: lower the quantity or split the trade"]
    return []


def _check_trailing(leg: Leg, label: str, rules: MarketRules) -> list[str]:
    if leg.trailing_delta is None:
        return []
    above = leg.side == "BUY"  # BUY stops are the "above" group, SELL stops the "below" group
    low = rules.min_trailing_above_delta if above else rules.min_trailing_below_delta
    high = rules.max_trailing_above_delta if above else rules.max_trailing_below_delta
    delta = leg.trailing_delta
    if (low > 0 and delta < low) or (high > 0 and delta > high):
        return [f"{label} trailing delta {delta} BIPS ({fmt(Decimal(delta) / 100)}%) is outside "
                f"{rules.symbol}'s TRAILING_DELTA range for {leg.side} stops, {low} to {high} BIPS "
                f"({fmt(Decimal(low) / 100)}% to {fmt(Decimal(high) / 100)}%): change stop.trailing"]
    return []


def _check_stop_limit(leg: Leg, label: str, rules: MarketRules) -> list[str]:
    price, stop = _num(leg.price), _num(leg.stop_price)
    if leg.type != "STOP_LOSS_LIMIT" or price is None or stop is None:
        return []
    if (leg.side == "SELL" and price > stop) or (leg.side == "BUY" and price < stop):
        where = "above" if leg.side == "SELL" else "below"
        must = "at or below" if leg.side == "SELL" else "at or above"
        return [f"{label} limit {fmt(price)} is {where} its trigger {fmt(stop)} after rounding to the "
                f"tick {fmt(rules.tick_size)}: a {leg.side} stop-limit must be {must} its trigger; "
                f"change the stop limit"]
    return []


def _check_immediate(leg: Leg, label: str, ref: Decimal) -> list[str]:
    stop, price = _num(leg.stop_price), _num(leg.price)
    sell = leg.side == "SELL"
    if leg.type in STOP_TYPES and stop is not None and (stop >= ref if sell else stop <= ref):
        where, move = ("at or above", "lower it below") if sell else ("at or below", "raise it above")
        return [f"{label} trigger {fmt(stop)} is {where} the price {fmt(ref)}: a {leg.side} stop "
                f"would trigger immediately; {move} {fmt(ref)}"]
    if leg.type == "LIMIT_MAKER" and price is not None and (price <= ref if sell else price >= ref):
        where, move = ("at or below", "raise it above") if sell else ("at or above", "lower it below")
        return [f"{label} {fmt(price)} is {where} the price {fmt(ref)}: a LIMIT_MAKER {leg.side} "
                f"would match immediately and be rejected; {move} {fmt(ref)}"]
    return []


def count_problems(rules: MarketRules, phases: list[list[tuple[bool, tuple[Leg, ...]]]],
                   slices: int) -> list[str]:
    """MAX_NUM_* filters against the orders open at once; a phase is [(is_list, legs), ...]."""
    def most(count) -> int:
        return max((sum(count(is_list, legs) for is_list, legs in phase) for phase in phases), default=0)
    used = (("MAX_NUM_ORDERS", most(lambda _, legs: len(legs)), rules.max_num_orders, "orders"),
            ("MAX_NUM_ALGO_ORDERS", most(lambda _, legs: sum(leg.type in STOP_TYPES for leg in legs)),
             rules.max_num_algo_orders, "stop orders"),
            ("MAX_NUM_ORDER_LISTS", most(lambda is_list, _: int(is_list)), rules.max_num_order_lists,
             "order lists"))
    return [_count_message(rules.symbol, name, n, limit, what, limit * slices // n)
            for name, n, limit, what in used if limit and n > limit]


def _count_message(symbol: str, name: str, used: int, limit: int, what: str, fits: int) -> str:
    fix = (f"use at most {fits} take-profit slice{'s' if fits > 1 else ''} (fewer if other orders "
           f"are open)" if fits else f"{symbol} cannot hold this plan's orders at once")
    return f"the plan keeps {used} {what} open at once; {symbol}'s {name} allows {limit}: {fix}"
