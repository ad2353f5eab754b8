"""Secrets never leak: a full `planrunner apply` against the simulator with a known HMAC secret,
and a BinanceClient with an encrypted Ed25519 key file, through auth failures (-1022, -2015) and
5xx answers. The API secret, the PEM body, the key password and every signature the exchange saw
must appear in no log record (DEBUG included), no CLI output (text or --format json), no file
written and no exception message."""

from __future__ import annotations

import logging
import random
import re
import threading
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hardening_helpers import QUICKSTART, snapshot
from wire_fakes import CALLS, ORDER, ScriptedExchange, body, official_examples

from planrunner.clock import ManualClock
from planrunner.errors import ExchangeError, PlanrunnerError
from planrunner.exchanges.binance.client import BinanceClient, RetryPolicy
from planrunner.exchanges.binance.signing import signer_from_env
from planrunner.exchanges.http import HttpResponse
from planrunner.sim.remote import SimControl
from planrunner.sim.server import SimOptions, start_simulator

API_KEY = "hardening-key-4f2a9c"
SECRET = "hardening-secret-7d1e5b3a9c0f2e4d6b8a"


class SignatureTap:
    """Wraps one running simulator's request handler to keep every signature it receives."""

    def __init__(self, app) -> None:
        self.signatures: list[str] = []
        self._lock = threading.Lock()
        self._inner = app.handle
        app.handle = self.handle

    def handle(self, request):
        for text in (request.query, request.body):
            for name, value in parse_qsl(text, keep_blank_values=True):
                if name == "signature":
                    with self._lock:
                        self.signatures.append(value)
        return self._inner(request)


@pytest.fixture
def sim():
    running = start_simulator(SimOptions(api_key=API_KEY, api_secret=SECRET))
    tap = SignatureTap(running.app)
    yield running, tap
    running.stop()


def _plan(folder: Path, name: str) -> Path:
    text = QUICKSTART.read_text("utf-8").replace("name: btc-quickstart", f"name: {name}")
    text = text.replace("exchange: paper ", "exchange: binance ")
    assert f"name: {name}" in text and "exchange: binance" in text
    path = folder / f"{name}.yaml"
    path.write_text(text, "utf-8")
    return path


def _assert_absent(secrets: list[str], where: str, text: str) -> None:
    for secret in secrets:
        assert secret not in text, f"a secret ({secret[:6]}...) appears in {where}"


def test_full_apply_over_the_simulator_leaks_no_secret(sim, tmp_path: Path, caplog) -> None:
    from click.testing import CliRunner

    from planrunner.cli import main

    running, tap = sim
    caplog.set_level(logging.DEBUG)
    env = {"BINANCE_API_KEY": API_KEY, "BINANCE_API_SECRET": SECRET, "NO_COLOR": "1",
           "PLANRUNNER_BINANCE_URL": running.base_url,
           "PLANRUNNER_PAPER_DIR": str(tmp_path / "paper")}
    runner = CliRunner()
    outputs: list[tuple[str, str]] = []

    def cli(*args: str, extra: dict[str, str] | None = None) -> int:
        result = runner.invoke(main, list(args), env={**env, **(extra or {})})
        outputs.append((" ".join(args), result.output + result.stderr + repr(result.exception)))
        return result.exit_code

    good = _plan(tmp_path, "leak-main")
    saved = tmp_path / "leak-main.saved.json"
    assert cli("apply", str(good), "--yes", "--format", "json") == 0, outputs[-1]
    assert cli("plan", str(good), "--out", str(saved)) == 0, outputs[-1]
    assert cli("apply", str(saved)) == 0, outputs[-1]
    assert cli("status", str(good), "--format", "json") == 0, outputs[-1]
    assert cli("status", str(good)) == 0, outputs[-1]
    assert cli("cancel", str(good)) == 0, outputs[-1]

    flaky = _plan(tmp_path, "leak-5xx")  # the entry POST executes, then answers 502
    SimControl(running.base_url).add_fault("error", path="/api/v3/order", status=502, count=1)
    assert cli("apply", str(flaky), "--yes") in (0, 1), outputs[-1]
    assert "502" in outputs[-1][1]

    wrong = _plan(tmp_path, "leak-auth")
    assert cli("apply", str(wrong), "--yes", extra={"BINANCE_API_SECRET": SECRET + "x"}) == 1
    assert "-1022" in outputs[-1][1], outputs[-1]
    assert cli("apply", str(wrong), "--yes", "--format", "json",
               extra={"BINANCE_API_SECRET": SECRET[::-1]}) == 1
    assert "-1022" in outputs[-1][1], outputs[-1]
    assert cli("apply", str(wrong), "--yes", extra={"BINANCE_API_KEY": "not-the-key"}) == 1
    assert "-2015" in outputs[-1][1] or "API-key" in outputs[-1][1], outputs[-1]

    assert len(tap.signatures) > 20, "the tap must have seen the signed calls"
    secrets = [SECRET, SECRET[::-1], *tap.signatures]
    for command, text in outputs:
        _assert_absent(secrets, f"the output of `{command}`", text)
    _assert_absent(secrets, "the log records", caplog.text + "".join(
        str(r.args) for r in caplog.records))
    files = snapshot(tmp_path)
    assert any(name.endswith(".state.json") for name in files)
    assert any(name.endswith(".state.json.backup") for name in files)
    for name, raw in files.items():
        _assert_absent(secrets, name, raw.decode("utf-8", "replace"))


def test_debug_logs_of_signed_calls_show_no_signature(sim, caplog) -> None:
    from planrunner.clock import SystemClock
    from planrunner.exchanges.binance.signing import HmacSigner
    from planrunner.exchanges.http import RequestsTransport

    running, tap = sim
    caplog.set_level(logging.DEBUG)
    client = BinanceClient(transport=RequestsTransport(), clock=SystemClock(),
                           signer=HmacSigner(API_KEY, SECRET), base_url=running.base_url)
    client.account()
    client.open_orders("BTCUSDT")
    assert tap.signatures and "signature=<redacted>" in caplog.text
    _assert_absent([SECRET, *tap.signatures], "the DEBUG log", caplog.text)


# --- Ed25519 key file with a password, over scripted failures -----------------------------------

PASSWORD = "hardening-pass-93b1"


@pytest.fixture(scope="module")
def key_file(tmp_path_factory) -> tuple[Path, str]:
    """A fresh Ed25519 key, encrypted PKCS#8 PEM (generated per run; never committed)."""
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(PASSWORD.encode()))
    path = tmp_path_factory.mktemp("keys") / "ed25519.pem"
    path.write_bytes(pem)
    path.chmod(0o600)
    body_text = "".join(line for line in pem.decode().splitlines() if "-----" not in line)
    return path, body_text


def _pem_pieces(pem_body: str) -> list[str]:
    """The PEM body and every 16-character slice of it: no fragment of the key may show."""
    return [pem_body] + [pem_body[i:i + 16] for i in range(0, len(pem_body) - 16, 16)]


FAILURES = {
    "bad signature": lambda: body({"code": -1022, "msg": "Signature for this request is not "
                                                         "valid."}, 400),
    "bad key": lambda: body({"code": -2015, "msg": "Invalid API-key, IP, or permissions for "
                                                   "action."}, 401),
    "server error": lambda: HttpResponse(502, {}, b"<html>502 Bad Gateway</html>"),
    "unknown": lambda: body({"code": -1006, "msg": "Unexpected response"}, 503),
}


def test_ed25519_key_password_and_signatures_never_leak(key_file, caplog) -> None:
    path, pem_body = key_file
    caplog.set_level(logging.DEBUG)
    env = {"BINANCE_API_KEY": API_KEY, "BINANCE_PRIVATE_KEY_FILE": str(path),
           "BINANCE_PRIVATE_KEY_PASSWORD": PASSWORD}
    signer = signer_from_env(env)
    clock = ManualClock()
    transport = ScriptedExchange(clock, official_examples())
    client = BinanceClient(transport=transport, clock=clock, signer=signer, base_url="https://x.test",
                           retry=RetryPolicy(attempts=2, base_delay=0.01), rng=random.Random(3))
    messages = [repr(signer), repr(client)]
    client.submit(ORDER)
    client.account()
    for failure, answer in FAILURES.items():
        for endpoint in ("POST /api/v3/order", "GET /api/v3/order", "DELETE /api/v3/order",
                         "GET /api/v3/account"):
            transport.broken = {endpoint: answer}
            with pytest.raises(ExchangeError) as caught:
                CALLS[endpoint](client)
            messages += [str(caught.value), repr(caught.value), str(caught.value.venue_message)]
    signatures = [dict(parse_qsl(_params(sent))).get("signature") for sent in transport.sent]
    signatures = [s for s in signatures if s]
    assert len(signatures) > 10
    secrets = [PASSWORD, *_pem_pieces(pem_body), *signatures]
    _assert_absent(secrets, "exception messages", "\n".join(messages))
    _assert_absent(secrets, "the log records", caplog.text)


def _params(sent) -> str:
    method, url, headers, payload = sent
    return payload.decode() if payload else url.partition("?")[2]


@pytest.mark.parametrize("password", [None, "wrong-password-1", PASSWORD + "!"])
def test_key_loading_errors_quote_neither_key_nor_password(key_file, password) -> None:
    path, pem_body = key_file
    env = {"BINANCE_API_KEY": API_KEY, "BINANCE_PRIVATE_KEY_FILE": str(path)}
    if password:
        env["BINANCE_PRIVATE_KEY_PASSWORD"] = password
    with pytest.raises(PlanrunnerError) as caught:
        signer_from_env(env)
    text = str(caught.value) + repr(caught.value)
    _assert_absent([PASSWORD, *(p for p in [password] if p), *_pem_pieces(pem_body)],
                   "the key loading error", text)
    assert "BINANCE_PRIVATE_KEY" in text


def test_a_key_file_holding_garbage_is_not_echoed(tmp_path: Path) -> None:
    path = tmp_path / "junk.pem"
    junk = "-----BEGIN PRIVATE KEY-----\nTOPSECRETNOTAKEY0123456789abcdefXYZ\n-----END PRIVATE KEY-----\n"
    path.write_text(junk)
    with pytest.raises(PlanrunnerError) as caught:
        signer_from_env({"BINANCE_API_KEY": API_KEY, "BINANCE_PRIVATE_KEY_FILE": str(path)})
    assert "TOPSECRETNOTAKEY" not in str(caught.value)
    assert re.search(r"PKCS#8|PEM", str(caught.value))
