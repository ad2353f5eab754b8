"""Contract: order lists (OCO) placed, queried and cancelled the same way on every adapter."""

from __future__ import annotations

import uuid
from decimal import Decimal

from planrunner.exchanges.base import ExchangeRequest, OrderListSnapshot, OrderStatus
from planrunner.money import ceil_to, floor_to, fmt

SYMBOL = "BTCUSDT"
QTY = Decimal("0.00100")


def _ids() -> tuple[str, str, str]:
    tag = uuid.uuid4().hex[:12]
    return f"ct-oco-{tag}", f"ct-tp-{tag}", f"ct-sl-{tag}"


def sell_oco(exchange) -> tuple[ExchangeRequest, tuple[str, str, str]]:
    ctx = exchange.market_context(SYMBOL)
    tick, last = ctx.rules.tick_size, ctx.last_price
    list_id, tp_id, sl_id = _ids()
    params = (("symbol", SYMBOL), ("listClientOrderId", list_id), ("side", "SELL"),
              ("quantity", fmt(QTY)),
              ("aboveType", "LIMIT_MAKER"), ("aboveClientOrderId", tp_id),
              ("abovePrice", fmt(ceil_to(last * Decimal("1.05"), tick))),
              ("belowType", "STOP_LOSS_LIMIT"), ("belowClientOrderId", sl_id),
              ("belowStopPrice", fmt(floor_to(last * Decimal("0.95"), tick))),
              ("belowPrice", fmt(floor_to(last * Decimal("0.945"), tick))),
              ("belowTimeInForce", "GTC"), ("newOrderRespType", "FULL"))
    return ExchangeRequest("POST", "/api/v3/orderList/oco", params), (list_id, tp_id, sl_id)


def test_oco_placement_and_query(exchange):
    request, (list_id, tp_id, sl_id) = sell_oco(exchange)
    placed = exchange.submit(request)
    assert isinstance(placed, OrderListSnapshot)
    assert (placed.contingency_type, placed.list_client_order_id, placed.symbol) == ("OCO", list_id, SYMBOL)
    assert placed.list_order_status == "EXECUTING"
    assert {o.client_order_id for o in placed.orders} == {tp_id, sl_id}
    queried = exchange.query_order_list(list_id)
    assert (queried.order_list_id, queried.contingency_type) == (placed.order_list_id, "OCO")
    assert {o.client_order_id for o in queried.orders} == {tp_id, sl_id}
    legs = {o.client_order_id: o for o in exchange.open_orders(SYMBOL)}
    assert legs[tp_id].type == "LIMIT_MAKER" and legs[sl_id].type == "STOP_LOSS_LIMIT"
    assert legs[tp_id].order_list_id == legs[sl_id].order_list_id == placed.order_list_id
    assert exchange.query_order(SYMBOL, sl_id).status == OrderStatus.NEW


def test_cancelling_the_list_cancels_both_legs(exchange):
    request, (list_id, tp_id, sl_id) = sell_oco(exchange)
    exchange.submit(request)
    canceled = exchange.cancel_order_list(SYMBOL, list_id)
    assert canceled.list_order_status == "ALL_DONE"
    open_ids = {o.client_order_id for o in exchange.open_orders(SYMBOL)}
    assert not open_ids & {tp_id, sl_id}


def test_take_profit_fill_expires_the_stop(exchange, market):
    request, (list_id, tp_id, sl_id) = sell_oco(exchange)
    exchange.submit(request)
    above = Decimal(request.param("abovePrice"))
    market.set_price(SYMBOL, above + exchange.market_context(SYMBOL).rules.tick_size)
    assert exchange.query_order(SYMBOL, tp_id).status == OrderStatus.FILLED
    assert exchange.query_order(SYMBOL, sl_id).status == OrderStatus.EXPIRED
    assert exchange.query_order_list(list_id).list_order_status == "ALL_DONE"
