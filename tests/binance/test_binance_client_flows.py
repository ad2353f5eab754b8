"""The client as an Exchange: market context, order lists and their legs, ACK follow-up, test
orders, the exchangeInfo cache, construction from the environment, and logs without secrets."""

from __future__ import annotations

import base64
import logging
from decimal import Decimal
from urllib.parse import unquote

import pytest
from binance_fakes import (
    API_KEY,
    SECRET,
    FakeTransport,
    err,
    make_client,
    ok,
    order_json,
)
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from planrunner.clock import ManualClock
from planrunner.errors import AuthError, ExchangeError, OrderNotFound, OutcomeUnknown
from planrunner.exchanges.base import (
    Exchange,
    ExchangeRequest,
    OrderListSnapshot,
    OrderStatus,
)
from planrunner.exchanges.binance import wire
from planrunner.exchanges.binance.client import BinanceClient
from planrunner.exchanges.binance.signing import Ed25519Signer, RsaSigner
from planrunner.exchanges.rules import builtin_exchange_info

ORDER = wire.new_order_request(wire.order_params(
    "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.001"), price=Decimal(7000),
    time_in_force="GTC", client_order_id="pr-1"))
LIST_HEADER = {"orderListId": 27, "contingencyType": "OCO", "listStatusType": "EXEC_STARTED",
               "listOrderStatus": "EXECUTING", "listClientOrderId": "L-1",
               "transactionTime": 1565245656253, "symbol": "BTCUSDT",
               "orders": [{"symbol": "BTCUSDT", "orderId": 4, "clientOrderId": "L-1-tp"},
                          {"symbol": "BTCUSDT", "orderId": 5, "clientOrderId": "L-1-sl"}]}


def test_client_is_an_exchange_with_live_capabilities() -> None:
    client, _, _ = make_client()
    assert isinstance(client, Exchange)
    caps = client.capabilities()
    assert caps.live and caps.order_test and caps.name == "binance"


def test_market_context_combines_rules_price_and_account_commission() -> None:
    client, transport, _ = make_client()
    transport.on("GET", "/api/v3/exchangeInfo", builtin_exchange_info())
    transport.on("GET", "/api/v3/ticker/price", {"symbol": "BTCUSDT", "price": "7195.24000000"})
    transport.on("GET", "/api/v3/account", {"commissionRates": {"maker": "0.00075", "taker": "0.00090"},
                                            "balances": []})
    ctx = client.market_context("BTCUSDT")
    assert ctx.rules.symbol == "BTCUSDT" and ctx.rules.tick_size == Decimal("0.01")
    assert ctx.last_price == Decimal("7195.24")
    assert (ctx.commission.maker, ctx.commission.taker) == (Decimal("0.00075"), Decimal("0.00090"))
    assert transport.calls("/api/v3/exchangeInfo")[0].param_dict() == {"symbol": "BTCUSDT"}
    assert "X-MBX-APIKEY" not in transport.calls("/api/v3/ticker/price")[0].headers  # public


def test_rules_are_cached_for_the_ttl_of_the_injected_clock() -> None:
    client, transport, clock = make_client(rules_ttl_ms=60_000)
    transport.on("GET", "/api/v3/exchangeInfo", builtin_exchange_info(), builtin_exchange_info())
    client.rules("BTCUSDT")
    clock.advance(59_999)
    client.rules("BTCUSDT")
    assert len(transport.calls("/api/v3/exchangeInfo")) == 1
    clock.advance(1)
    client.rules("BTCUSDT")
    assert len(transport.calls("/api/v3/exchangeInfo")) == 2


def test_unknown_symbol_in_exchange_info() -> None:
    client, transport, _ = make_client()
    transport.on("GET", "/api/v3/exchangeInfo", builtin_exchange_info())
    with pytest.raises(ExchangeError, match="no symbol XRPUSDT"):
        client.rules("XRPUSDT")


def test_query_order_list_then_its_legs() -> None:
    client, transport, _ = make_client()
    transport.on("GET", "/api/v3/orderList", LIST_HEADER)
    transport.on("GET", "/api/v3/order",
                 order_json(orderId=4, clientOrderId="L-1-tp", type="LIMIT_MAKER", orderListId=27),
                 order_json(orderId=5, clientOrderId="L-1-sl", type="STOP_LOSS_LIMIT",
                            stopPrice="6500", orderListId=27))
    snapshot = client.query_order_list("L-1")
    assert isinstance(snapshot, OrderListSnapshot)
    assert [o.client_order_id for o in snapshot.orders] == ["L-1-tp", "L-1-sl"]
    assert snapshot.orders[1].stop_price == Decimal(6500)
    assert transport.calls("/api/v3/orderList")[0].param_dict()["origClientOrderId"] == "L-1"
    assert [s.param_dict()["origClientOrderId"] for s in transport.calls("/api/v3/order")] == \
        ["L-1-tp", "L-1-sl"]


def test_unknown_list_is_order_not_found() -> None:
    client, transport, _ = make_client()
    transport.on("GET", "/api/v3/orderList", err(400, -2013, "Order list does not exist."))
    with pytest.raises(OrderNotFound):
        client.query_order_list("L-404")


def test_submit_order_list_with_reports() -> None:
    client, transport, _ = make_client()
    reports = [order_json(orderId=4, clientOrderId="L-1-tp", orderListId=27),
               order_json(orderId=5, clientOrderId="L-1-sl", orderListId=27)]
    transport.on("POST", "/api/v3/orderList/oco", {**LIST_HEADER, "orderReports": reports})
    request = ExchangeRequest("POST", "/api/v3/orderList/oco", (("symbol", "BTCUSDT"),
                                                                ("listClientOrderId", "L-1")))
    snapshot = client.submit(request)
    assert isinstance(snapshot, OrderListSnapshot) and len(snapshot.orders) == 2
    assert transport.calls("/api/v3/order") == []  # no follow-up queries needed


def test_ack_answers_are_completed_by_a_query() -> None:
    client, transport, _ = make_client()
    transport.on("POST", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": 11, "orderListId": -1,
                                           "clientOrderId": "pr-1", "transactTime": 1})
    transport.on("GET", "/api/v3/order", order_json(status="FILLED", executedQty="0.001",
                                                    cummulativeQuoteQty="7"))
    snapshot = client.submit(ORDER)
    assert snapshot.status is OrderStatus.FILLED and snapshot.average_price == Decimal(7000)


def test_cancels_send_the_client_ids() -> None:
    client, transport, _ = make_client()
    transport.on("DELETE", "/api/v3/order", order_json(status="CANCELED", origClientOrderId="pr-1",
                                                       clientOrderId="cancel-x"))
    transport.on("DELETE", "/api/v3/orderList", {**LIST_HEADER, "listStatusType": "ALL_DONE",
                                                 "listOrderStatus": "ALL_DONE", "orderReports": [
                                                     order_json(status="CANCELED", orderId=4)]})
    assert client.cancel_order("BTCUSDT", "pr-1").client_order_id == "pr-1"
    assert client.cancel_order_list("BTCUSDT", "L-1").list_order_status == "ALL_DONE"
    order_cancel, list_cancel = transport.calls("/api/v3/order")[0], transport.calls("/api/v3/orderList")[0]
    assert order_cancel.body is None and order_cancel.param_dict()["origClientOrderId"] == "pr-1"
    assert list_cancel.param_dict()["listClientOrderId"] == "L-1"


def test_test_order_with_commission_rates() -> None:
    client, transport, _ = make_client()
    transport.on("POST", "/api/v3/order/test", {
        "standardCommissionForOrder": {"maker": "0.001", "taker": "0.001"},
        "taxCommissionForOrder": {"maker": "0", "taker": "0"}})
    result = client.test_order(ORDER, compute_commission=True)
    assert result.standard.taker == Decimal("0.001")
    assert transport.calls("/api/v3/order/test")[0].param_dict()["computeCommissionRates"] == "true"
    with pytest.raises(ExchangeError, match="only POST /api/v3/order"):
        client.test_order(ExchangeRequest("POST", "/api/v3/orderList/oco", ()))


def test_signed_calls_without_keys_say_what_to_set() -> None:
    client, transport, _ = make_client(signer=None)
    with pytest.raises(AuthError, match="BINANCE_API_KEY.*BINANCE_API_SECRET"):
        client.balances()
    assert transport.sent == []


def test_from_env_picks_base_url_and_credentials() -> None:
    clock = ManualClock()
    transport = FakeTransport(clock)
    transport.on("GET", "/api/v3/account", {"balances": [{"asset": "BTC", "free": "1", "locked": "0"}]})
    env = {"BINANCE_API_KEY": API_KEY, "BINANCE_API_SECRET": SECRET}
    testnet = BinanceClient.from_env("binance-testnet", env=env, transport=transport, clock=clock)
    assert testnet.balances()[0].free == Decimal(1)
    assert transport.sent[-1].url.startswith("https://testnet.binance.vision/api/v3/account?")
    local = BinanceClient.from_env("binance", env={**env, "PLANRUNNER_BINANCE_URL": "http://127.0.0.1:9/"},
                                   transport=transport, clock=clock)
    transport.on("GET", "/api/v3/ticker/price", {"symbol": "BTCUSDT", "price": "1"})
    local.last_price("BTCUSDT")
    assert transport.sent[-1].url == "http://127.0.0.1:9/api/v3/ticker/price?symbol=BTCUSDT"
    with pytest.raises(ExchangeError, match="binance-testnet"):
        BinanceClient.from_env("kraken", env={}, transport=transport, clock=clock)


def test_one_log_line_per_call_and_no_secret_anywhere(caplog) -> None:
    client, transport, _ = make_client()
    transport.on("GET", "/api/v3/openOrders", ok([], {"X-MBX-USED-WEIGHT-1M": "42"}))
    transport.on("POST", "/api/v3/order", err(400, -1022, "Signature for this request is not valid."))
    with caplog.at_level(logging.DEBUG, logger="planrunner.binance"):
        client.open_orders("BTCUSDT")
        with pytest.raises(AuthError) as info:
            client.submit(ORDER)
    lines = [r.getMessage() for r in caplog.records if r.name == "planrunner.binance"]
    assert lines[-2] == "GET /api/v3/openOrders 200 0ms weight=42"
    assert lines[-1].startswith("POST /api/v3/order 400")
    assert len(lines) == len(transport.sent)
    signatures = [s.param_dict()["signature"] for s in transport.sent if "signature" in s.param_dict()]
    text = "\n".join(lines) + str(info.value) + repr(info.value)
    for secret in [SECRET, API_KEY, *signatures]:
        assert secret not in text


@pytest.mark.parametrize("answer, follow_up", [
    ({"symbol": "BTCUSDT", "orderId": 11, "clientOrderId": "pr-1"}, err(400, -2013, "Order does not exist.")),
    ({"symbol": "BTCUSDT", "orderId": "x", "status": "NEW"}, None),
])
def test_an_accepted_order_whose_state_cannot_be_read_is_outcome_unknown(answer, follow_up) -> None:
    client, transport, _ = make_client()
    transport.on("POST", "/api/v3/order", answer)
    if follow_up is not None:  # ACK, then the query has not caught up yet
        transport.on("GET", "/api/v3/order", follow_up)
    with pytest.raises(OutcomeUnknown, match="look the order up by its client id"):
        client.submit(ORDER)
    assert len(transport.calls("/api/v3/order")) == (2 if follow_up is not None else 1)


def _rsa_signer():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return RsaSigner(API_KEY, key), lambda sig, data: key.public_key().verify(
        sig, data, padding.PKCS1v15(), hashes.SHA256())


def _ed_signer():
    key = ed25519.Ed25519PrivateKey.generate()
    return Ed25519Signer(API_KEY, key), key.public_key().verify


@pytest.mark.parametrize("make_signer", [_rsa_signer, _ed_signer])
def test_the_sent_bytes_are_exactly_the_signed_bytes(make_signer) -> None:
    signer, verify = make_signer()
    client, transport, _ = make_client(signer=signer)
    transport.on("POST", "/api/v3/order", order_json(symbol="这是测试币456"))
    client.submit(wire.new_order_request(wire.order_params(
        "这是测试币456", "BUY", "LIMIT", quantity=Decimal(1), price=Decimal("0.1"),
        time_in_force="GTC", client_order_id="pr-1")))
    body = transport.calls("/api/v3/order")[0].body.decode("ascii")
    payload, _, encoded_signature = body.rpartition("&signature=")
    assert payload.startswith("symbol=%E8%BF%99%E6%98%AF")
    verify(base64.b64decode(unquote(encoded_signature)), payload.encode("ascii"))  # raises if not


def test_query_by_order_id_sends_the_order_id_alone() -> None:
    """Binance answers a query naming both ids only if they match; a cancel renames the client
    id, so a look-up by order id must not send the (old) client id."""
    client, transport, _ = make_client()
    transport.on("GET", "/api/v3/order", order_json(clientOrderId="web_renamed", status="CANCELED"))
    snap = client.query_order("BTCUSDT", "pr-1", order_id=11)
    assert snap.status is OrderStatus.CANCELED and snap.order_id == 11
    params = transport.calls("/api/v3/order")[-1].param_dict()
    assert params["orderId"] == "11" and "origClientOrderId" not in params


def test_order_trades_reads_the_orders_real_fills() -> None:
    client, transport, _ = make_client()
    transport.on("GET", "/api/v3/myTrades", [
        {"symbol": "BTCUSDT", "id": 28457, "orderId": 11, "orderListId": -1, "price": "7210.5",
         "qty": "0.001", "quoteQty": "7.2105", "commission": "0.0072105",
         "commissionAsset": "USDT", "time": 1_700_000_000_500, "isBuyer": False,
         "isMaker": True, "isBestMatch": True}])
    fills = client.order_trades("BTCUSDT", 11)
    assert [(f.trade_id, f.price, f.qty, f.commission, f.commission_asset, f.is_maker)
            for f in fills] == [(28457, Decimal("7210.5"), Decimal("0.001"),
                                 Decimal("0.0072105"), "USDT", True)]
    params = transport.calls("/api/v3/myTrades")[-1].param_dict()
    assert params["symbol"] == "BTCUSDT" and params["orderId"] == "11"
