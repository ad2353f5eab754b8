"""Failures over real HTTP: wrong keys and signatures, clock skew with the client's one resync,
429 and 418, and a POST that executed but whose answer was a 5xx, a dropped connection or late."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from sim_helpers import API_KEY, make_client

from planrunner.errors import AuthError, OutcomeUnknown, RateLimited
from planrunner.exchanges.base import OrderStatus
from planrunner.exchanges.binance import wire

SYMBOL = "BTCUSDT"


def buy(cid: str, price: str = "7000") -> object:
    return wire.new_order_request(wire.order_params(
        SYMBOL, "BUY", "LIMIT", quantity=Decimal("0.01"), price=Decimal(price),
        time_in_force="GTC", client_order_id=cid))


def statuses(control) -> dict[str, str]:
    return {o["origClientOrderId"]: o["status"] for o in control.orders()}


def test_wrong_secret_is_a_signature_error(sim, clock):
    bad = make_client(sim.base_url, clock, secret="not-the-secret")
    with pytest.raises(AuthError) as info:
        bad.account()
    assert (info.value.code, info.value.http_status) == (-1022, 400)
    assert info.value.venue_message == "Signature for this request is not valid."


def test_unknown_key_and_missing_key(sim, clock):
    with pytest.raises(AuthError) as info:
        make_client(sim.base_url, clock, key="someone-else").account()
    assert (info.value.code, info.value.http_status) == (-2015, 401)
    answer = requests.get(f"{sim.base_url}/api/v3/account?timestamp=1&signature=00", timeout=5)
    assert (answer.status_code, answer.json()["code"]) == (401, -2014)


def test_clock_skew_gets_1021_then_one_resync_and_retry(client, control):
    client.sync_time()
    before = client.time_offset_ms
    control.add_fault("skew", ms=20_000)
    balances = client.balances()
    assert balances and abs(client.time_offset_ms - before - 20_000) < 2_000
    codes = [r["status"] for r in control.requests() if r["path"] == "/api/v3/account"]
    assert codes == [400, 200]  # -1021, then the retry after /api/v3/time


def test_timestamp_ahead_and_recv_window_too_big(sim):
    session = requests.Session()
    session.headers["X-MBX-APIKEY"] = API_KEY
    ahead = session.get(f"{sim.base_url}/api/v3/account",
                        params={"timestamp": "99999999999999", "signature": "00"}, timeout=5)
    assert ahead.json() == {"code": -1021, "msg": "Timestamp for this request was 1000ms ahead "
                                                  "of the server's time."}
    wide = session.get(f"{sim.base_url}/api/v3/account",
                       params={"timestamp": "1", "recvWindow": "60001", "signature": "00"}, timeout=5)
    assert wide.json()["code"] == -1102 and "60000" in wide.json()["msg"]
    old = session.get(f"{sim.base_url}/api/v3/account",
                      params={"timestamp": "1", "signature": "00"}, timeout=5)
    assert old.json()["msg"] == "Timestamp for this request is outside of the recvWindow."


def test_429_retry_after_is_honoured(client, control, clock):
    control.add_fault("rate_limit", path="/api/v3/account", retry_after=7)
    assert client.balances()
    assert max(clock.sleeps) >= 7
    assert [r["status"] for r in control.requests() if r["path"] == "/api/v3/account"] == [429, 200]


def test_418_ban_stops_all_traffic(sim, client, control):
    control.add_fault("ban", path="/api/v3/account", retry_after=300)
    with pytest.raises(RateLimited) as info:
        client.balances()
    assert info.value.banned and info.value.retry_after == 300
    sent = len(control.requests())
    with pytest.raises(RateLimited):
        client.last_price(SYMBOL)
    assert len(control.requests()) == sent  # the client sent nothing while banned
    answer = requests.get(f"{sim.base_url}/api/v3/ping", timeout=5)
    assert answer.status_code == 418 and int(answer.headers["Retry-After"]) > 0


def test_5xx_after_execute_is_outcome_unknown_and_the_order_exists(client, control):
    control.add_fault("error", path="/api/v3/order", status=503)
    with pytest.raises(OutcomeUnknown) as info:
        client.submit(buy("fault-5xx"))
    assert info.value.http_status == 503
    assert statuses(control)["fault-5xx"] == "NEW"
    assert client.query_order(SYMBOL, "fault-5xx").status is OrderStatus.NEW


def test_dropped_answer_is_outcome_unknown_and_the_order_exists(client, control):
    control.add_fault("drop", path="/api/v3/order")
    with pytest.raises(OutcomeUnknown):
        client.submit(buy("fault-drop"))
    assert statuses(control)["fault-drop"] == "NEW"
    assert [o.client_order_id for o in client.open_orders(SYMBOL)] == ["fault-drop"]


def test_late_answer_times_out_as_outcome_unknown(sim, clock, control):
    slow = make_client(sim.base_url, clock, timeout=0.3)
    slow.sync_time()
    control.add_fault("delay", path="/api/v3/order", ms=1500)
    with pytest.raises(OutcomeUnknown):
        slow.submit(buy("fault-late"))
    assert statuses(control)["fault-late"] == "NEW"


def test_manual_cancel_renames_the_order_and_frees_the_client_id(client, control):
    client.submit(buy("drift-1"))
    answer = control.cancel(SYMBOL, "drift-1")
    assert answer["origClientOrderId"] == "drift-1" and answer["status"] == "CANCELED"
    assert client.query_order(SYMBOL, "drift-1").status is OrderStatus.CANCELED
    again = client.submit(buy("drift-1", price="6990"))  # the id is free again
    assert again.status is OrderStatus.NEW
    assert client.query_order(SYMBOL, "drift-1").order_id == again.order_id


def test_cleared_faults_lift_a_ban(sim, control):
    control.add_fault("ban", retry_after=60)
    assert requests.get(f"{sim.base_url}/api/v3/ping", timeout=5).status_code == 418
    assert requests.get(f"{sim.base_url}/api/v3/ping", timeout=5).status_code == 418
    control.clear_faults()
    assert requests.get(f"{sim.base_url}/api/v3/ping", timeout=5).status_code == 200


def test_partial_fill_fault_leaves_the_order_partially_filled(client, control):
    client.submit(buy("part-1", price="7100"))
    control.add_fault("partial", symbol=SYMBOL, client_order_id="part-1", fraction="0.3")
    control.set_price(SYMBOL, Decimal(7100))
    part = client.query_order(SYMBOL, "part-1")
    assert (part.status, part.executed_qty) == (OrderStatus.PARTIALLY_FILLED, Decimal("0.003"))
    usdt = {b.asset: b for b in client.balances()}["USDT"]
    assert usdt.locked == Decimal("49.7")  # 0.007 still on the book at 7100
    control.set_price(SYMBOL, Decimal(7090))  # the fault is used up: the rest fills
    done = client.query_order(SYMBOL, "part-1")
    assert (done.status, done.executed_qty) == (OrderStatus.FILLED, Decimal("0.01"))
    assert len(client.my_trades(SYMBOL, order_id=done.order_id)) == 2
