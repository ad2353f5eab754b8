"""Contract: what every exchange adapter must do with plain orders (place, query, cancel, fill)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from planrunner.errors import OrderNotFound, OrderRejected
from planrunner.exchanges.base import (Exchange, ExchangeRequest, MarketContext, OrderSnapshot,
                                       OrderStatus)
from planrunner.money import ceil_to, floor_to, fmt

SYMBOL = "BTCUSDT"
QTY = Decimal("0.00100")


def client_id(tag: str) -> str:
    return f"ct-{tag}-{uuid.uuid4().hex[:16]}"


def order(symbol: str, side: str, type_: str, cid: str, **params: str) -> ExchangeRequest:
    pairs = [("symbol", symbol), ("side", side), ("type", type_), *params.items(),
             ("newClientOrderId", cid), ("newOrderRespType", "FULL")]
    return ExchangeRequest("POST", "/api/v3/order", tuple(pairs))


def limit_buy(ctx: MarketContext, cid: str, fraction: str = "0.95") -> ExchangeRequest:
    price = floor_to(ctx.last_price * Decimal(fraction), ctx.rules.tick_size)
    return order(SYMBOL, "BUY", "LIMIT", cid, timeInForce="GTC", quantity=fmt(QTY), price=fmt(price))


def free(exchange: Exchange, asset: str) -> tuple[Decimal, Decimal]:
    for balance in exchange.balances():
        if balance.asset == asset:
            return balance.free, balance.locked
    return Decimal(0), Decimal(0)


def test_market_context_shape(exchange):
    ctx = exchange.market_context(SYMBOL)
    assert (ctx.rules.symbol, ctx.rules.base_asset, ctx.rules.quote_asset) == (SYMBOL, "BTC", "USDT")
    assert ctx.rules.tick_size > 0 and ctx.rules.step_size > 0 and ctx.rules.min_notional > 0
    assert ctx.rules.allows("LIMIT") and ctx.rules.allows("MARKET") and ctx.rules.oco_allowed
    assert isinstance(ctx.last_price, Decimal) and ctx.last_price > 0
    assert ctx.last_price == exchange.last_price(SYMBOL)
    assert 0 <= ctx.commission.maker < Decimal("0.01") and 0 <= ctx.commission.taker < Decimal("0.01")
    assert exchange.capabilities().name


def test_limit_buy_below_market_rests_then_cancels(exchange):
    cid = client_id("lim")
    placed = exchange.submit(limit_buy(exchange.market_context(SYMBOL), cid))
    assert isinstance(placed, OrderSnapshot)
    assert (placed.status, placed.client_order_id, placed.executed_qty) == (OrderStatus.NEW, cid, 0)
    queried = exchange.query_order(SYMBOL, cid)
    assert (queried.order_id, queried.status, queried.orig_qty) == (placed.order_id, OrderStatus.NEW, QTY)
    assert placed.order_id in {o.order_id for o in exchange.open_orders(SYMBOL)}
    canceled = exchange.cancel_order(SYMBOL, cid)
    assert (canceled.order_id, canceled.status) == (placed.order_id, OrderStatus.CANCELED)
    assert placed.order_id not in {o.order_id for o in exchange.open_orders(SYMBOL)}


def test_duplicate_client_id_while_open_is_rejected(exchange):
    ctx, cid = exchange.market_context(SYMBOL), client_id("dup")
    first = exchange.submit(limit_buy(ctx, cid))
    with pytest.raises(OrderRejected) as info:
        exchange.submit(limit_buy(ctx, cid, fraction="0.94"))
    assert info.value.code == -2010
    assert [o.order_id for o in exchange.open_orders(SYMBOL) if o.client_order_id == cid] == [first.order_id]
    exchange.cancel_order(SYMBOL, cid)


def test_unknown_client_id_is_not_found(exchange):
    with pytest.raises(OrderNotFound):
        exchange.query_order(SYMBOL, client_id("ghost"))
    with pytest.raises(OrderNotFound):
        exchange.query_order_list(client_id("ghost-list"))


def test_market_buy_fills_with_commission_in_base_asset(exchange, market):
    ctx = exchange.market_context(SYMBOL)
    price = ceil_to(ctx.last_price, ctx.rules.tick_size)
    market.set_price(SYMBOL, price)
    btc_before, usdt_before = free(exchange, "BTC"), free(exchange, "USDT")
    filled = exchange.submit(order(SYMBOL, "BUY", "MARKET", client_id("mkt"), quantity=fmt(QTY)))
    assert (filled.status, filled.executed_qty) == (OrderStatus.FILLED, QTY)
    assert filled.fills and {f.commission_asset for f in filled.fills} == {"BTC"}
    commission = sum(f.commission for f in filled.fills)
    assert commission == QTY * ctx.commission.taker
    assert filled.cumulative_quote_qty == sum(f.price * f.qty for f in filled.fills)
    assert free(exchange, "BTC")[0] - btc_before[0] == QTY - commission
    assert usdt_before[0] - free(exchange, "USDT")[0] == filled.cumulative_quote_qty
    assert exchange.query_order(SYMBOL, filled.client_order_id).status == OrderStatus.FILLED


def test_resting_limit_locks_quote_and_cancel_releases_it_exactly(exchange):
    ctx, cid = exchange.market_context(SYMBOL), client_id("lock")
    request = limit_buy(ctx, cid)
    usdt_free, usdt_locked = free(exchange, "USDT")
    exchange.submit(request)
    cost = QTY * Decimal(request.param("price"))
    assert free(exchange, "USDT") == (usdt_free - cost, usdt_locked + cost)
    exchange.cancel_order(SYMBOL, cid)
    assert free(exchange, "USDT") == (usdt_free, usdt_locked)


def test_resting_limit_fills_at_its_price_when_the_market_reaches_it(exchange, market):
    ctx, cid = exchange.market_context(SYMBOL), client_id("touch")
    request = limit_buy(ctx, cid, fraction="0.98")
    limit = Decimal(request.param("price"))
    btc_before, usdt_before = free(exchange, "BTC"), free(exchange, "USDT")
    exchange.submit(request)
    market.set_price(SYMBOL, limit - ctx.rules.tick_size)
    done = exchange.query_order(SYMBOL, cid)
    assert (done.status, done.executed_qty, done.cumulative_quote_qty) == (
        OrderStatus.FILLED, QTY, QTY * limit)
    commission = QTY * ctx.commission.maker
    assert free(exchange, "BTC")[0] - btc_before[0] == QTY - commission
    assert sum(free(exchange, "USDT")) == sum(usdt_before) - QTY * limit
    assert cid not in {o.client_order_id for o in exchange.open_orders(SYMBOL)}
