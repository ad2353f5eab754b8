"""The real BinanceClient over HTTP against the simulator: market context, a limit order's life,
every order-list endpoint with its legs armed by /sim/price moves, OPOCO sizing net of fees."""

from __future__ import annotations

from decimal import Decimal

from planrunner.exchanges.base import (
    ExchangeRequest,
    OrderListSnapshot,
    OrderSnapshot,
    OrderStatus,
)
from planrunner.exchanges.binance import wire

SYMBOL = "BTCUSDT"
OPEN = Decimal("7195.24")


def limit(side: str, qty: str, price: str, cid: str, resp: str | None = "FULL") -> ExchangeRequest:
    return wire.new_order_request(wire.order_params(
        SYMBOL, side, "LIMIT", quantity=Decimal(qty), price=Decimal(price), time_in_force="GTC",
        client_order_id=cid, resp_type=resp))


def list_request(kind: str, **params: str) -> ExchangeRequest:
    pairs = (("symbol", SYMBOL), *params.items(), ("newOrderRespType", "RESULT"))
    return ExchangeRequest("POST", f"/api/v3/orderList/{kind}", pairs)


def by_cid(control, cid: str) -> dict:
    return next(o for o in control.orders() if o["origClientOrderId"] == cid)


def test_market_context_comes_from_exchange_info_ticker_and_account(client):
    ctx = client.market_context(SYMBOL)
    assert (ctx.rules.symbol, ctx.rules.tick_size, ctx.rules.step_size) == (
        SYMBOL, Decimal("0.01"), Decimal("0.00001"))
    assert ctx.rules.min_notional == Decimal(5) and ctx.rules.opoco_allowed
    assert ctx.last_price == OPEN
    assert (ctx.commission.maker, ctx.commission.taker) == (Decimal("0.001"), Decimal("0.001"))


def test_limit_order_placed_queried_and_cancelled(client, control):
    placed = client.submit(limit("BUY", "0.01", "7000", "flow-limit-1"))
    assert isinstance(placed, OrderSnapshot)
    assert (placed.status, placed.client_order_id, placed.orig_qty) == (
        OrderStatus.NEW, "flow-limit-1", Decimal("0.01"))
    assert client.query_order(SYMBOL, "flow-limit-1").order_id == placed.order_id
    assert [o.order_id for o in client.open_orders(SYMBOL)] == [placed.order_id]
    usdt = {b.asset: b for b in client.balances()}["USDT"]
    assert (usdt.free, usdt.locked) == (Decimal(9930), Decimal(70))
    canceled = client.cancel_order(SYMBOL, "flow-limit-1")
    assert (canceled.status, canceled.client_order_id) == (OrderStatus.CANCELED, "flow-limit-1")
    assert client.open_orders(SYMBOL) == ()
    row = by_cid(control, "flow-limit-1")
    assert row["clientOrderId"].startswith("simcancel") and row["status"] == "CANCELED"


def test_ack_answer_is_read_back_and_limit_fills_on_a_price_move(client, control):
    placed = client.submit(limit("BUY", "0.01", "7100", "flow-ack-1", resp="ACK"))
    assert placed.status is OrderStatus.NEW and placed.orig_qty == Decimal("0.01")
    changed = control.set_price(SYMBOL, Decimal("7099.50"))
    assert [(c["origClientOrderId"], c["status"]) for c in changed] == [("flow-ack-1", "FILLED")]
    done = client.query_order(SYMBOL, "flow-ack-1")
    assert (done.status, done.executed_qty, done.cumulative_quote_qty) == (
        OrderStatus.FILLED, Decimal("0.01"), Decimal(71))
    trades = client.my_trades(SYMBOL, order_id=done.order_id)
    assert [(t.fill.price, t.fill.qty, t.fill.commission, t.fill.commission_asset) for t in trades] \
        == [(Decimal(7100), Decimal("0.01"), Decimal("0.00001"), "BTC")]


def test_oco_stop_leg_triggers_and_the_take_profit_expires(client, control):
    placed = client.submit(list_request(
        "oco", side="SELL", quantity="0.1", listClientOrderId="flow-oco",
        aboveType="LIMIT_MAKER", abovePrice="7600", aboveClientOrderId="flow-oco-tp",
        belowType="STOP_LOSS", belowStopPrice="6900", belowClientOrderId="flow-oco-sl"))
    assert isinstance(placed, OrderListSnapshot) and placed.contingency_type == "OCO"
    control.set_price(SYMBOL, Decimal(6899))
    legs = {o.client_order_id: o for o in client.query_order_list("flow-oco").orders}
    assert legs["flow-oco-sl"].status is OrderStatus.FILLED
    assert (legs["flow-oco-tp"].status, legs["flow-oco-tp"].expiry_reason) == (
        OrderStatus.EXPIRED, "OCO_TRIGGER")
    assert client.query_order_list("flow-oco").list_order_status == "ALL_DONE"


def _working(price: str, qty: str, cid: str) -> dict[str, str]:
    return {"workingType": "LIMIT", "workingSide": "BUY", "workingPrice": price,
            "workingQuantity": qty, "workingTimeInForce": "GTC", "workingClientOrderId": cid}


def test_oto_pending_leg_is_armed_when_the_working_order_fills(client, control):
    client.submit(list_request(
        "oto", listClientOrderId="flow-oto", **_working("7100", "0.02", "flow-oto-w"),
        pendingType="LIMIT", pendingSide="SELL", pendingPrice="7500", pendingQuantity="0.02",
        pendingTimeInForce="GTC", pendingClientOrderId="flow-oto-p"))
    assert client.query_order(SYMBOL, "flow-oto-p").status is OrderStatus.PENDING_NEW
    control.set_price(SYMBOL, Decimal(7090))
    assert client.query_order(SYMBOL, "flow-oto-w").status is OrderStatus.FILLED
    assert client.query_order(SYMBOL, "flow-oto-p").status is OrderStatus.NEW
    control.set_price(SYMBOL, Decimal(7500))
    assert client.query_order(SYMBOL, "flow-oto-p").status is OrderStatus.FILLED


def _pending_oco(prefix: str, qty: str | None) -> dict[str, str]:
    sized = {"pendingQuantity": qty} if qty else {}
    return {"pendingSide": "SELL", **sized, "pendingAboveType": "LIMIT_MAKER",
            "pendingAbovePrice": "7600", "pendingAboveClientOrderId": f"{prefix}-tp",
            "pendingBelowType": "STOP_LOSS", "pendingBelowStopPrice": "6900",
            "pendingBelowClientOrderId": f"{prefix}-sl"}


def test_otoco_take_profit_fills_after_the_entry(client, control):
    placed = client.submit(list_request("otoco", listClientOrderId="flow-otoco",
                                        **_working("7100", "0.05", "flow-otoco-w"),
                                        **_pending_oco("flow-otoco", "0.05")))
    assert [o.status for o in placed.orders] == [OrderStatus.NEW, OrderStatus.PENDING_NEW,
                                                 OrderStatus.PENDING_NEW]
    control.set_price(SYMBOL, Decimal(7050))
    control.set_price(SYMBOL, Decimal(7600))
    legs = {o.client_order_id: o.status for o in client.query_order_list("flow-otoco").orders}
    assert legs == {"flow-otoco-w": OrderStatus.FILLED, "flow-otoco-tp": OrderStatus.FILLED,
                    "flow-otoco-sl": OrderStatus.EXPIRED}


def test_opo_leg_is_sized_from_the_fill_net_of_commission(client, control):
    client.submit(list_request(
        "opo", listClientOrderId="flow-opo", **_working("7100", "0.5", "flow-opo-w"),
        pendingType="LIMIT", pendingSide="SELL", pendingPrice="7500", pendingTimeInForce="GTC",
        pendingClientOrderId="flow-opo-p"))
    control.set_price(SYMBOL, Decimal(7100))
    leg = client.query_order(SYMBOL, "flow-opo-p")
    assert (leg.status, leg.orig_qty) == (OrderStatus.NEW, Decimal("0.49950"))  # 0.5 - 0.1% fee


def test_opoco_legs_share_the_net_quantity(client, control):
    placed = client.submit(list_request("opoco", listClientOrderId="flow-opoco",
                                        **_working("7100", "0.2", "flow-opoco-w"),
                                        **_pending_oco("flow-opoco", None)))
    assert all(o.orig_qty == 0 for o in placed.orders[1:])  # no quantity until the entry fills
    control.set_price(SYMBOL, Decimal(7080))
    legs = {o.client_order_id: o for o in client.query_order_list("flow-opoco").orders}
    assert legs["flow-opoco-tp"].orig_qty == legs["flow-opoco-sl"].orig_qty == Decimal("0.19980")
    btc = {b.asset: b for b in client.balances()}["BTC"]
    assert (btc.free, btc.locked) == (Decimal(1), Decimal("0.19980"))
