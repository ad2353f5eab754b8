"""Ed25519 API keys: the simulator verifies base64 Ed25519 signatures over the exact received
payload against a registered public key; the real BinanceClient with an Ed25519Signer works, a
different key gets -1022."""

from __future__ import annotations

import random
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from sim_helpers import JumpClock

from planrunner.errors import AuthError
from planrunner.exchanges.binance.client import BinanceClient, RetryPolicy
from planrunner.exchanges.binance.signing import (
    Ed25519Signer,
    HmacSigner,
    Signer,
    encode_params,
    signed_payload,
)
from planrunner.exchanges.http import RequestsTransport
from planrunner.sim.auth import Credentials, check_signature
from planrunner.sim.errors import ApiError
from planrunner.sim.server import SimOptionError, SimOptions, start_simulator

KEY = "sim-ed25519-key-0123456789"


def _public_pem(private: ed25519.Ed25519PrivateKey, folder: Path) -> str:
    path = folder / "ed25519-public.pem"
    path.write_bytes(private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return str(path)


@pytest.fixture
def private() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def clock() -> JumpClock:
    return JumpClock()


@pytest.fixture
def ed_sim(private, tmp_path, clock):
    running = start_simulator(SimOptions(api_key=KEY, ed25519_public_key=_public_pem(private, tmp_path)),
                              clock=clock)
    yield running
    running.stop()


def _client(base_url: str, clock, signer: Signer) -> BinanceClient:
    return BinanceClient(transport=RequestsTransport(), clock=clock, signer=signer,
                         base_url=base_url, name="binance-sim",
                         retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05),
                         rng=random.Random(7), timeout=5.0)


def test_real_client_with_an_ed25519_key(ed_sim, clock, private):
    client = _client(ed_sim.base_url, clock, Ed25519Signer(KEY, private))
    account = client.account()
    assert account is not None
    assert ed_sim.app.served()[-1]["status"] == 200


def test_another_ed25519_key_is_a_signature_error(ed_sim, clock):
    other = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(AuthError) as info:
        _client(ed_sim.base_url, clock, Ed25519Signer(KEY, other)).account()
    assert (info.value.code, info.value.http_status) == (-1022, 400)
    assert info.value.venue_message == "Signature for this request is not valid."


def test_an_hmac_signature_does_not_pass_for_an_ed25519_key(ed_sim, clock):
    with pytest.raises(AuthError) as info:
        _client(ed_sim.base_url, clock, HmacSigner(KEY, "any-secret")).account()
    assert info.value.code == -1022


def _post_order(base_url: str, query: str) -> tuple[int, dict]:
    answer = requests.post(f"{base_url}/api/v3/order?{query}", headers={"X-MBX-APIKEY": KEY},
                           timeout=5)
    return answer.status_code, answer.json()


def test_signed_order_and_tampering(ed_sim, clock, private):
    params = [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
              ("quantity", "0.01"), ("price", "7000"), ("newClientOrderId", "ed-1"),
              ("timestamp", str(clock.now_ms()))]
    signer = Ed25519Signer(KEY, private)
    status, body = _post_order(ed_sim.base_url, signed_payload(params, signer))
    assert status == 200 and body["clientOrderId"] == "ed-1"
    # The same signature over a payload changed after signing.
    payload = encode_params(params)
    signature = signer.sign(payload.encode("ascii"))
    tampered = payload.replace("0.01", "0.02")
    status, body = _post_order(ed_sim.base_url, f"{tampered}&signature={quote(signature, safe='')}")
    assert (status, body["code"]) == (400, -1022)
    # Base64 is case-sensitive: the right signature with its case flipped is refused.
    params[-2] = ("newClientOrderId", "ed-2")
    payload = encode_params(params)
    signature = signer.sign(payload.encode("ascii")).swapcase()
    status, body = _post_order(ed_sim.base_url, f"{payload}&signature={quote(signature, safe='')}")
    assert (status, body["code"]) == (400, -1022)


def test_check_signature_unit(private):
    creds = Credentials.for_ed25519(private.public_key(), KEY)
    payload = "symbol=BTCUSDT&timestamp=1"
    good = quote(Ed25519Signer(KEY, private).sign(payload.encode()), safe="")
    assert "%3D" in good  # 64 bytes of base64 end in "==", sent percent-encoded
    check_signature(f"{payload}&signature={good}", "", creds)  # in the query string
    check_signature("symbol=BTCUSDT&", f"timestamp=1&signature={good}", creds)  # in the body
    for bad in ("not-base64!", quote("A" * 88, safe=""), good[:-6], good.replace("%3D", "=") + "x"):
        with pytest.raises(ApiError) as info:
            check_signature(f"{payload}&signature={bad}", "", creds)
        assert info.value.code == -1022
    with pytest.raises(ApiError) as info:
        check_signature(payload, "", creds)
    assert info.value.code == -1102
    assert "redacted" in repr(creds) and "ed25519" in repr(creds)


def _options(**kw) -> SimOptions:
    base = {"host": "127.0.0.1", "port": 0, "prices": (), "speed": "0", "balances": (),
            "api_key": None, "api_secret": None}
    return SimOptions.from_cli(**{**base, **kw})


def test_cli_options(private, tmp_path):
    pem = _public_pem(private, tmp_path)
    assert _options(ed25519_public_key=pem, api_key="k").ed25519_public_key == pem
    assert _options(ed25519_public_key=pem).api_key is None  # the key is generated at start
    running = start_simulator(_options(ed25519_public_key=pem))
    try:
        creds = running.credentials
        assert creds.generated and creds.api_secret is None and creds.ed25519 is not None
    finally:
        running.stop()
    private_pem = tmp_path / "private.pem"
    private_pem.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                                  serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    x_pem = tmp_path / "x25519.pem"
    x_pem.write_bytes(x25519.X25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    for kw, says in (({"ed25519_public_key": pem, "api_key": "k", "api_secret": "s"}, "no secret"),
                     ({"ed25519_public_key": str(tmp_path / "missing.pem")}, "cannot read"),
                     ({"ed25519_public_key": str(private_pem)}, "BEGIN PUBLIC KEY"),
                     ({"ed25519_public_key": str(x_pem)}, "not an Ed25519")):
        with pytest.raises(SimOptionError, match=says):
            _options(**kw)
