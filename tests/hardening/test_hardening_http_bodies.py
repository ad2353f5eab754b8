"""Bad answers over real HTTP (the requests transport, not a fake): a raw socket server sends
broken status lines, short bodies, bad gzip, HTML and silence; the simulator injects 5xx, dropped
connections, 429 and 418. Every call ends in an ExchangeError subclass; an order POST whose
answer is lost or unreadable is OutcomeUnknown (it may have executed)."""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator

import pytest

from planrunner.clock import ManualClock, SystemClock
from planrunner.errors import ExchangeError, OutcomeUnknown, RateLimited, TransientError
from planrunner.exchanges.base import ExchangeRequest
from planrunner.exchanges.binance.client import BinanceClient, RetryPolicy
from planrunner.exchanges.binance.signing import HmacSigner
from planrunner.exchanges.http import RequestsTransport
from planrunner.sim.remote import SimControl
from planrunner.sim.server import SimOptions, start_simulator

TIME = b'{"serverTime": 1700000000000}'
ORDER = ExchangeRequest("POST", "/api/v3/order", (
    ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "0.001"),
    ("newClientOrderId", "hx-http-1"), ("newOrderRespType", "FULL")))


def _reply(status: str, body: bytes, extra: str = "", length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    head = f"HTTP/1.1 {status}\r\nContent-Length: {size}\r\nConnection: close\r\n{extra}\r\n"
    return head.encode() + body


class RawServer:
    """Answers /api/v3/time properly and every other request with `answer` (raw bytes, or None
    to hang up without a word)."""

    def __init__(self) -> None:
        self.answer: bytes | None = b""
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with conn:
                request = conn.recv(65536)
                if b"/api/v3/time" in request.split(b"\r\n", 1)[0]:
                    conn.sendall(_reply("200 OK", TIME))
                elif self.answer is not None:
                    conn.sendall(self.answer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


@pytest.fixture(scope="module")
def raw() -> Iterator[RawServer]:
    server = RawServer()
    yield server
    server.close()


def _client(url: str, clock=None) -> BinanceClient:
    return BinanceClient(transport=RequestsTransport(), clock=clock or ManualClock(),
                         signer=HmacSigner("k", "s"), base_url=url, timeout=2.0,
                         retry=RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02),
                         rng=random.Random(5))


ANSWERS = {
    "html 200": _reply("200 OK", b"<html><body>maintenance</body></html>"),
    "empty 200": _reply("200 OK", b""),
    "short body": _reply("200 OK", b'{"symbol": "BTC', length=400),
    "bad gzip": _reply("200 OK", b"not gzip at all", "Content-Encoding: gzip\r\n"),
    "garbage status line": b"HELLO THERE\r\n\r\n",
    "hang up": None,
    "html 403": _reply("403 Forbidden", b"<html>WAF</html>"),
    "html 502": _reply("502 Bad Gateway", b"<html>bad gateway</html>"),
    "non-utf8 400": _reply("400 Bad Request", b"\xff\xfe\xfd"),
    "huge json": _reply("200 OK", b'{"x": "' + b"y" * 2_000_000 + b'"}'),
}
LOST = {"short body", "bad gzip", "garbage status line", "hang up"}  # no usable answer at all


@pytest.mark.parametrize("answer", sorted(ANSWERS))
@pytest.mark.parametrize("call", ["submit", "query", "account", "ticker"])
def test_broken_http_answers_are_exchange_errors(raw: RawServer, answer: str, call: str) -> None:
    raw.answer = ANSWERS[answer]
    client = _client(raw.url)
    actions = {"submit": lambda: client.submit(ORDER),
               "query": lambda: client.query_order("BTCUSDT", "hx-http-1"),
               "account": client.account, "ticker": lambda: client.last_price("BTCUSDT")}
    with pytest.raises(ExchangeError) as caught:
        actions[call]()
    exc = caught.value
    if call == "submit" and (answer in LOST or "200" in answer):
        assert isinstance(exc, OutcomeUnknown), exc
    if call != "submit" and answer in LOST:
        assert isinstance(exc, TransientError), exc  # a read that got no answer: retried
    assert "Traceback" not in str(exc) and len(str(exc)) < 1000


# --- the simulator's injected faults -------------------------------------------------------------

@pytest.fixture
def sim():
    running = start_simulator(SimOptions(api_key="hk", api_secret="hs"))
    yield running, SimControl(running.base_url)
    running.stop()


def _sim_client(url: str) -> BinanceClient:
    return BinanceClient(transport=RequestsTransport(), clock=SystemClock(),
                         signer=HmacSigner("hk", "hs"), base_url=url, timeout=2.0,
                         retry=RetryPolicy(attempts=1), rng=random.Random(5))


@pytest.mark.parametrize(("fault", "expected"), [
    ({"kind": "error", "status": 500}, OutcomeUnknown),
    ({"kind": "error", "status": 503}, OutcomeUnknown),
    ({"kind": "drop"}, OutcomeUnknown),
    ({"kind": "rate_limit", "retry_after": 1}, RateLimited),
    ({"kind": "ban", "retry_after": 5}, RateLimited),
])
def test_simulator_faults_on_an_order_post(sim, fault: dict, expected: type) -> None:
    running, control = sim
    client = _sim_client(running.base_url)
    client.sync_time()
    control.add_fault(fault.pop("kind"), path="/api/v3/order", **fault)
    with pytest.raises(expected) as caught:
        client.submit(ORDER)
    assert "Traceback" not in str(caught.value)
    placed = [o for o in control.orders() if o.get("clientOrderId") == "hx-http-1"]
    if expected is OutcomeUnknown:
        assert placed, "the simulator executed it: exactly why the outcome is unknown"
    else:
        assert not placed, "a rate-limited request executes nothing"


@pytest.mark.parametrize("kind", ["error", "drop"])
def test_simulator_faults_on_reads_are_transient(sim, kind: str) -> None:
    running, control = sim
    client = _sim_client(running.base_url)
    client.sync_time()
    control.add_fault(kind, path="/api/v3/account", count=5)
    with pytest.raises(TransientError):
        client.account()
