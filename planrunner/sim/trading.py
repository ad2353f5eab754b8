"""The simulator's SIGNED endpoints: orders, order lists, cancels (with Binance's client-id
rename), queries, account, trades and commission, each a function
(market, params, server time) -> JSON, executed on the paper MatchingEngine.

Engine refusals pass through as the planrunner errors the engine raises (code + message); the
server turns them into Binance's 400 answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from planrunner.errors import OrderNotFound
from planrunner.exchanges.base import (
    ExchangeRequest,
    OrderListSnapshot,
    OrderSnapshot,
    OrderStatus,
)
from planrunner.sim import responses as r
from planrunner.sim.errors import ApiError
from planrunner.sim.market import SimMarket
from planrunner.sim.marketdata import bad_value, int_param, known_symbol, mandatory

Params = Mapping[str, str]
_RESP_TYPES = ("ACK", "RESULT", "FULL")
_UNKNOWN = "Unknown order sent."
LIST_DEFAULT_RESP = "RESULT"  # undocumented; the official list examples show RESULT reports


def _request(path: str, params: Params) -> ExchangeRequest:
    return ExchangeRequest("POST", path, tuple(params.items()))


def _resp_type(params: Params, default: str) -> str:
    value = params.get("newOrderRespType") or default
    if value not in _RESP_TYPES:
        raise bad_value("newOrderRespType")
    return value


def new_order(market: SimMarket, params: Params, now_ms: int) -> Any:
    default = "FULL" if params.get("type") in ("MARKET", "LIMIT") else "ACK"
    resp = _resp_type(params, default)
    placed = market.engine.submit(_request("/api/v3/order", params), market.market_time_ms)
    assert isinstance(placed, OrderSnapshot)
    return r.order_placed(placed, market.rules[placed.symbol], market.client_id(placed), resp)


def test_order(market: SimMarket, params: Params, now_ms: int) -> Any:
    market.engine.test_order(_request("/api/v3/order", params), market.market_time_ms)
    if params.get("computeCommissionRates", "false").lower() == "true":
        return r.order_test_commission(market.commission)
    return {}


def new_order_list(path: str):
    def handler(market: SimMarket, params: Params, now_ms: int) -> Any:
        resp = _resp_type(params, LIST_DEFAULT_RESP)
        placed = market.engine.submit(_request(path, params), market.market_time_ms)
        assert isinstance(placed, OrderListSnapshot)
        return r.list_placed(placed, market.rules[placed.symbol], market.client_id, resp)
    return handler


# --- finding orders --------------------------------------------------------------------------

def _ref(params: Params) -> tuple[str | None, int | None]:
    client_id = params.get("origClientOrderId") or None
    order_id = int_param(params, "orderId")
    if client_id is None and order_id is None:
        raise ApiError(400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but "
                                   "both were empty/null!")
    return client_id, order_id


def find_order(market: SimMarket, symbol: str, params: Params,
               missing: tuple[int, str] = (-2013, "Order does not exist.")) -> OrderSnapshot:
    """By orderId (the client id, original or cancel-renamed, must then match), else by client id
    (the original one, then a cancel's id)."""
    client_id, order_id = _ref(params)
    engine = market.engine
    try:
        if order_id is None:
            renamed = market.renamed_order_id(client_id or "")
            try:
                return engine.query_order(symbol, client_order_id=client_id)
            except OrderNotFound:
                if renamed is None:
                    raise
                return engine.query_order(symbol, order_id=renamed)
        found = engine.query_order(symbol, order_id=order_id)
    except OrderNotFound:
        raise ApiError(400, *missing) from None
    if client_id is not None and client_id not in (found.client_order_id, market.client_id(found)):
        raise ApiError(400, -2039, "Client order ID is not correct for this order ID.")
    return found


def query_order(market: SimMarket, params: Params, now_ms: int) -> Any:
    symbol = known_symbol(market, params)
    found = find_order(market, symbol, params)
    return r.order_query(found, market.rules[symbol], market.client_id(found))


def _check_restriction(order: OrderSnapshot, params: Params) -> None:
    rule = params.get("cancelRestrictions")
    if rule is None:
        return
    wanted = {"ONLY_NEW": OrderStatus.NEW, "ONLY_PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED}
    if rule not in wanted:
        raise ApiError(400, -1145, "Invalid cancelRestrictions")
    if order.status is not wanted[rule]:
        raise ApiError(400, -2011, "Order was not canceled due to cancel restrictions.")


def _cancel_id(market: SimMarket, params: Params) -> str:
    value = params.get("newClientOrderId")
    if value is not None and value == "":
        raise ApiError(400, -1118, "New client order ID was empty.")
    return value or market.next_cancel_id()


def cancel_order(market: SimMarket, params: Params, now_ms: int) -> Any:
    symbol = known_symbol(market, params)
    found = find_order(market, symbol, params, missing=(-2011, _UNKNOWN))
    _check_restriction(found, params)
    original = market.client_id(found)
    canceled = market.engine.cancel_order(symbol, order_id=found.order_id,
                                          now_ms=market.market_time_ms)
    cancel_id = _cancel_id(market, params)
    market.rename(canceled.order_id, cancel_id)
    return r.order_canceled(canceled, market.rules[symbol], original, cancel_id)


def open_orders(market: SimMarket, params: Params, now_ms: int) -> Any:
    symbol = known_symbol(market, params) if params.get("symbol") else None
    return [r.order_query(o, market.rules[o.symbol], market.client_id(o))
            for o in market.engine.open_orders(symbol)]


def cancel_open_orders(market: SimMarket, params: Params, now_ms: int) -> Any:
    symbol = known_symbol(market, params)
    open_now = market.engine.open_orders(symbol)
    if not open_now:
        raise ApiError(400, -2011, _UNKNOWN)
    answers: list[Any] = []
    for list_id in sorted({o.order_list_id for o in open_now if o.order_list_id >= 0}):
        answers.append(_cancel_list(market, symbol, {"orderListId": str(list_id)}))
    for order in market.engine.open_orders(symbol):
        answers.append(cancel_order(market, {"symbol": symbol, "orderId": str(order.order_id)},
                                    now_ms))
    return answers


# --- order lists ---------------------------------------------------------------------------

def _list_ref(params: Params, client_name: str) -> dict[str, Any]:
    client_id = params.get(client_name) or None
    list_id = int_param(params, "orderListId")
    if client_id is None and list_id is None:
        raise ApiError(400, -1102, f"Param '{client_name}' or 'orderListId' must be sent, but "
                                   "both were empty/null!")
    return {"list_client_order_id": client_id, "order_list_id": list_id}


def _cancel_list(market: SimMarket, symbol: str, params: Params) -> Any:
    ref = _list_ref(params, "listClientOrderId")
    try:
        before = market.engine.query_order_list(**ref)
    except OrderNotFound:
        raise ApiError(400, -2011, _UNKNOWN) from None
    originals = {o.order_id: market.client_id(o) for o in before.orders}
    done = market.engine.cancel_order_list(symbol, now_ms=market.market_time_ms, **ref)
    cancel_id = _cancel_id(market, params)
    for leg in done.orders:
        if leg.status is OrderStatus.CANCELED:
            market.rename(leg.order_id, cancel_id)
    return r.list_canceled(done, market.rules[symbol], originals, market.client_id)


def cancel_order_list(market: SimMarket, params: Params, now_ms: int) -> Any:
    return _cancel_list(market, known_symbol(market, params), params)


def query_order_list(market: SimMarket, params: Params, now_ms: int) -> Any:
    ref = _list_ref(params, "origClientOrderId")
    try:
        found = market.engine.query_order_list(**ref)
    except OrderNotFound:
        raise ApiError(400, -2013, "Order list does not exist.") from None
    return r.list_header(found, market.client_id)


def _list_ids(market: SimMarket) -> list[int]:
    return sorted({o.order_list_id for o in market.engine.all_orders() if o.order_list_id >= 0})


def open_order_lists(market: SimMarket, params: Params, now_ms: int) -> Any:
    lists = [market.engine.query_order_list(order_list_id=i) for i in _list_ids(market)]
    return [r.list_header(lst, market.client_id) for lst in lists
            if lst.list_order_status != "ALL_DONE"]


# --- history and account --------------------------------------------------------------------

def _limit(params: Params) -> int:
    limit = int_param(params, "limit", 500) or 500
    if not 1 <= limit <= 1000:
        raise bad_value("limit")
    return limit


def all_orders(market: SimMarket, params: Params, now_ms: int) -> Any:
    symbol = known_symbol(market, params)
    from_id = int_param(params, "orderId", 0) or 0
    start, end = int_param(params, "startTime"), int_param(params, "endTime")
    rows = [o for o in market.engine.all_orders() if o.symbol == symbol and o.order_id >= from_id
            and (start is None or o.time_ms >= start) and (end is None or o.time_ms <= end)]
    rules = market.rules[symbol]
    return [r.order_query(o, rules, market.client_id(o)) for o in rows[:_limit(params)]]


def my_trades(market: SimMarket, params: Params, now_ms: int) -> Any:
    symbol = known_symbol(market, params)
    order_id, from_id = int_param(params, "orderId"), int_param(params, "fromId", 0) or 0
    rules = market.rules[symbol]
    rows = [r.trade_json(o, f, rules) for o in market.engine.all_orders()
            if o.symbol == symbol and (order_id is None or o.order_id == order_id)
            for f in o.fills if f.trade_id >= from_id]
    rows.sort(key=lambda row: row["id"])
    return rows[:_limit(params)]


def account(market: SimMarket, params: Params, now_ms: int) -> Any:
    omit = params.get("omitZeroBalances", "false").lower() == "true"
    return r.account_json(market.engine.balances(), market.commission, now_ms, omit)


def commission(market: SimMarket, params: Params, now_ms: int) -> Any:
    return r.commission_json(known_symbol(market, params), market.commission)


def _legacy_legs(params: Params) -> tuple[dict[str, str], dict[str, str]]:
    """The deprecated OCO's legs: LIMIT_MAKER at `price`, STOP_LOSS(_LIMIT) at `stopPrice`."""
    for name in ("quantity", "price", "stopPrice"):
        if not params.get(name):
            raise mandatory(name)
    if params.get("stopLimitPrice") and not params.get("stopLimitTimeInForce"):
        raise mandatory("stopLimitTimeInForce")
    limit = {"Type": "LIMIT_MAKER", "Price": params["price"],
             "ClientOrderId": params.get("limitClientOrderId", "")}
    stop = {"Type": "STOP_LOSS_LIMIT" if params.get("stopLimitPrice") else "STOP_LOSS",
            "StopPrice": params["stopPrice"], "Price": params.get("stopLimitPrice", ""),
            "TimeInForce": params.get("stopLimitTimeInForce", ""),
            "TrailingDelta": params.get("trailingDelta", ""),
            "ClientOrderId": params.get("stopClientOrderId", "")}
    return limit, stop


def legacy_oco(market: SimMarket, params: Params, now_ms: int) -> Any:
    """POST /api/v3/order/oco (deprecated since 2024-04): served as the orderList/oco it stands
    for, a SELL with the limit leg above and the stop below, a BUY the other way round."""
    side = params.get("side")
    if side not in ("BUY", "SELL"):
        raise mandatory("side") if not side else ApiError(400, -1117, "Invalid side.")
    limit, stop = _legacy_legs(params)
    above, below = (limit, stop) if side == "SELL" else (stop, limit)
    translated = {k: params[k] for k in ("symbol", "side", "quantity", "listClientOrderId",
                                         "newOrderRespType") if params.get(k)}
    for prefix, leg in (("above", above), ("below", below)):
        translated.update({f"{prefix}{k}": v for k, v in leg.items() if v})
    return new_order_list("/api/v3/orderList/oco")(market, translated, now_ms)
