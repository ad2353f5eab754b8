"""Pure rendering of the simulator's Binance JSON: order, order-list, trade, account and commission
objects with the official examples' keys, ids and times as JSON integers, and every price and
quantity a string with the symbol's asset precision (e.g. "0.00100000"). No floats, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from planrunner.exchanges.base import (
    Balance,
    Commission,
    Fill,
    MarketRules,
    OrderListSnapshot,
    OrderSnapshot,
    OrderStatus,
)

Json = dict[str, Any]
ClientIds = Callable[[OrderSnapshot], str]
_STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
STP_MODE = "EXPIRE_MAKER"  # the symbols' defaultSelfTradePreventionMode in exchange_info.json


def places(value: Decimal, digits: int) -> str:
    """A Decimal as Binance writes it: fixed point with exactly `digits` decimals."""
    return format(value.quantize(Decimal(1).scaleb(-digits)), "f")


def _qty(value: Decimal, rules: MarketRules) -> str:
    return places(value, rules.base_asset_precision)


def _px(value: Decimal, rules: MarketRules) -> str:
    return places(value, rules.quote_asset_precision)


def is_working(order: OrderSnapshot) -> bool:
    """On the book: not a pending list leg, not an untouched stop (the engine does not expose a
    stop's trigger before it trades, so a triggered unfilled *_LIMIT reads as not working)."""
    if order.status is OrderStatus.PENDING_NEW:
        return False
    return not (order.type in _STOP_TYPES and order.executed_qty <= 0
                and order.status is OrderStatus.NEW)


def _common(order: OrderSnapshot, rules: MarketRules, *, sized: bool = True) -> Json:
    out: Json = {"price": _px(order.price, rules)}
    if sized:
        out["origQty"] = _qty(order.orig_qty, rules)
    out.update({"executedQty": _qty(order.executed_qty, rules),
                "origQuoteOrderQty": _px(order.orig_quote_order_qty, rules),
                "cummulativeQuoteQty": _px(order.cumulative_quote_qty, rules),
                "status": order.status.value, "timeInForce": order.time_in_force or "GTC",
                "type": order.type, "side": order.side})
    return out


def _conditional(order: OrderSnapshot, rules: MarketRules, out: Json) -> Json:
    if order.type in _STOP_TYPES:
        out["stopPrice"] = _px(order.stop_price, rules)
    if order.trailing_delta is not None:
        out["trailingDelta"] = order.trailing_delta
    if order.expiry_reason:
        out["expiryReason"] = order.expiry_reason
    return out


def _sized(order: OrderSnapshot) -> bool:
    """OPO pending legs have no quantity until the working order fills."""
    return not (order.status is OrderStatus.PENDING_NEW and order.orig_qty <= 0)


def order_ack(order: OrderSnapshot, client_id: str) -> Json:
    return {"symbol": order.symbol, "orderId": order.order_id, "orderListId": order.order_list_id,
            "clientOrderId": client_id, "transactTime": order.update_time_ms}


def order_result(order: OrderSnapshot, rules: MarketRules, client_id: str, *,
                 full: bool = False) -> Json:
    """POST /api/v3/order RESULT / FULL, and the legs of a list placement."""
    out = order_ack(order, client_id)
    out.update(_common(order, rules, sized=_sized(order)))
    out["workingTime"] = order.time_ms if is_working(order) else -1
    out["selfTradePreventionMode"] = STP_MODE
    _conditional(order, rules, out)
    if full:
        out["fills"] = [fill_json(f, rules) for f in order.fills]
    return out


def order_placed(order: OrderSnapshot, rules: MarketRules, client_id: str, resp_type: str) -> Json:
    if resp_type == "ACK":
        return order_ack(order, client_id)
    return order_result(order, rules, client_id, full=resp_type == "FULL")


def order_query(order: OrderSnapshot, rules: MarketRules, client_id: str) -> Json:
    """GET /api/v3/order, openOrders and allOrders."""
    out: Json = {"symbol": order.symbol, "orderId": order.order_id,
                 "orderListId": order.order_list_id, "clientOrderId": client_id}
    out.update(_common(order, rules, sized=_sized(order)))
    working = is_working(order)
    out.update({"stopPrice": _px(order.stop_price, rules), "icebergQty": _qty(Decimal(0), rules),
                "time": order.time_ms, "updateTime": order.update_time_ms, "isWorking": working,
                "workingTime": order.time_ms if working else -1,
                "origQuoteOrderQty": _px(order.orig_quote_order_qty, rules),
                "selfTradePreventionMode": STP_MODE})
    if order.trailing_delta is not None:
        out["trailingDelta"] = order.trailing_delta
    if order.expiry_reason:
        out["expiryReason"] = order.expiry_reason
    return out


def order_canceled(order: OrderSnapshot, rules: MarketRules, original_id: str,
                   cancel_id: str) -> Json:
    """DELETE /api/v3/order: the order renamed to the cancel's id, the old one as origClientOrderId."""
    out: Json = {"symbol": order.symbol, "origClientOrderId": original_id,
                 "orderId": order.order_id, "orderListId": order.order_list_id,
                 "clientOrderId": cancel_id, "transactTime": order.update_time_ms}
    out.update(_common(order, rules, sized=_sized(order)))
    out["selfTradePreventionMode"] = STP_MODE
    return _conditional(order, rules, out)


def fill_json(fill: Fill, rules: MarketRules) -> Json:
    return {"price": _px(fill.price, rules), "qty": _qty(fill.qty, rules),
            "commission": places(fill.commission, 8), "commissionAsset": fill.commission_asset,
            "tradeId": fill.trade_id}


def list_header(lst: OrderListSnapshot, client_ids: ClientIds) -> Json:
    """GET /api/v3/orderList, openOrderList: the header and orders[] (no reports)."""
    return {"orderListId": lst.order_list_id, "contingencyType": lst.contingency_type,
            "listStatusType": lst.list_status_type, "listOrderStatus": lst.list_order_status,
            "listClientOrderId": lst.list_client_order_id,
            "transactionTime": lst.transaction_time_ms, "symbol": lst.symbol,
            "orders": [{"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": client_ids(o)}
                       for o in lst.orders]}


def list_placed(lst: OrderListSnapshot, rules: MarketRules, client_ids: ClientIds,
                resp_type: str) -> Json:
    out = list_header(lst, client_ids)
    out["orderReports"] = [order_placed(o, rules, client_ids(o), resp_type) for o in lst.orders]
    return out


def list_canceled(lst: OrderListSnapshot, rules: MarketRules, originals: dict[int, str],
                  client_ids: ClientIds) -> Json:
    out = list_header(lst, lambda o: originals.get(o.order_id, client_ids(o)))
    out["orderReports"] = [order_canceled(o, rules, originals.get(o.order_id, client_ids(o)),
                                          client_ids(o)) for o in lst.orders]
    return out


def trade_json(order: OrderSnapshot, fill: Fill, rules: MarketRules) -> Json:
    """One GET /api/v3/myTrades row."""
    return {"symbol": order.symbol, "id": fill.trade_id, "orderId": order.order_id,
            "orderListId": order.order_list_id, "price": _px(fill.price, rules),
            "qty": _qty(fill.qty, rules), "quoteQty": _px(fill.price * fill.qty, rules),
            "commission": places(fill.commission, 8), "commissionAsset": fill.commission_asset,
            "time": fill.time_ms, "isBuyer": order.side == "BUY", "isMaker": fill.is_maker,
            "isBestMatch": True}


def _rate(value: Decimal) -> str:
    return places(value, 8)


def account_json(balances: Iterable[Balance], commission: Commission, now_ms: int,
                 omit_zero: bool) -> Json:
    rows = [{"asset": b.asset, "free": places(b.free, 8), "locked": places(b.locked, 8)}
            for b in balances if not (omit_zero and b.free == 0 and b.locked == 0)]
    return {"makerCommission": int(commission.maker * 10_000),
            "takerCommission": int(commission.taker * 10_000),
            "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": _rate(commission.maker), "taker": _rate(commission.taker),
                                "buyer": _rate(Decimal(0)), "seller": _rate(Decimal(0))},
            "canTrade": True, "canWithdraw": False, "canDeposit": False, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False, "updateTime": now_ms,
            "accountType": "SPOT", "balances": rows, "permissions": ["SPOT"], "uid": 1}


def _discount() -> Json:
    return {"enabledForAccount": False, "enabledForSymbol": False, "discountAsset": "BNB",
            "discount": _rate(Decimal("0.75"))}


def commission_json(symbol: str, commission: Commission) -> Json:
    """GET /api/v3/account/commission."""
    four = {"maker": _rate(commission.maker), "taker": _rate(commission.taker),
            "buyer": _rate(Decimal(0)), "seller": _rate(Decimal(0))}
    zero = {k: _rate(Decimal(0)) for k in four}
    return {"symbol": symbol, "standardCommission": four, "specialCommission": zero,
            "taxCommission": dict(zero), "discount": _discount()}


def order_test_commission(commission: Commission) -> Json:
    """POST /api/v3/order/test with computeCommissionRates=true."""
    zero = {"maker": _rate(Decimal(0)), "taker": _rate(Decimal(0))}
    return {"standardCommissionForOrder": {"maker": _rate(commission.maker),
                                           "taker": _rate(commission.taker)},
            "specialCommissionForOrder": zero, "taxCommissionForOrder": dict(zero),
            "discount": _discount()}
