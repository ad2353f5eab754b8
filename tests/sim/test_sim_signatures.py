"""The simulator verifies HMAC signatures over exactly what was received (query + body, the
signature parameter removed), with Binance's own published vectors, and stays consistent under
concurrent clients."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
import requests
from sim_helpers import API_KEY, API_SECRET, make_client

from planrunner.errors import ExchangeError
from planrunner.exchanges.binance import wire
from planrunner.exchanges.binance.signing import HmacSigner, signed_payload
from planrunner.sim.auth import Credentials, check_signature
from planrunner.sim.errors import ApiError

OFFICIAL = Credentials("vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
                       "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
H1 = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
      "&timestamp=1499827319559")
H1_SIG = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
H2 = ("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT"
      "&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559")
H2_SIG = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"


@pytest.mark.parametrize("query, body", [
    (f"{H1}&signature={H1_SIG}", ""),
    ("", f"{H1}&signature={H1_SIG}"),
    (f"{H1}&signature={H1_SIG.upper()}", ""),  # hex is case-insensitive
    # rest-api.md example 3: query + body joined with no '&' between them
    ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
     ("quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
     "&signature=0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77")),
    (f"{H2}&signature={H2_SIG}", ""),
])
def test_official_vectors_verify(query, body):
    check_signature(query, body, OFFICIAL)


@pytest.mark.parametrize("query", [
    f"{H1.replace('quantity=1', 'quantity=2')}&signature={H1_SIG}",
    f"{H2.replace('%EF%BC%91', '１')}&signature={H2_SIG}",  # signed encoded, sent raw
    H1,
])
def test_changed_or_unsigned_payloads_are_refused(query):
    with pytest.raises(ApiError) as info:
        check_signature(query, "", OFFICIAL)
    assert info.value.code in (-1022, -1102)


def test_a_tampered_request_gets_1022_over_http(sim, clock):
    signed = signed_payload((("symbol", "BTCUSDT"), ("timestamp", str(clock.now_ms()))),
                            HmacSigner(API_KEY, API_SECRET))
    tampered = signed.replace("BTCUSDT", "ETHUSDT")
    answer = requests.get(f"{sim.base_url}/api/v3/openOrders?{tampered}",
                          headers={"X-MBX-APIKEY": API_KEY}, timeout=5)
    assert (answer.status_code, answer.json()["code"]) == (400, -1022)
    fine = requests.get(f"{sim.base_url}/api/v3/openOrders?{signed}",
                        headers={"X-MBX-APIKEY": API_KEY}, timeout=5)
    assert (fine.status_code, fine.json()) == (200, [])


def test_concurrent_clients_get_distinct_orders(sim, clock, control):
    errors: list[ExchangeError] = []

    def place(n: int) -> None:
        try:
            make_client(sim.base_url, clock).submit(wire.new_order_request(wire.order_params(
                "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.001"), price=Decimal(6000 + n),
                time_in_force="GTC", client_order_id=f"conc-{n}")))
        except ExchangeError as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=place, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert errors == []
    orders = control.orders()
    assert sorted(o["orderId"] for o in orders) == list(range(1, 13))
    assert {o["clientOrderId"] for o in orders} == {f"conc-{n}" for n in range(12)}
    assert control.balances()["USDT"][1] == sum(Decimal("0.001") * (6000 + n) for n in range(12))
