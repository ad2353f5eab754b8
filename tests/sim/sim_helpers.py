"""Shared pieces of the simulator tests: a wall clock whose sleeps jump instead of waiting (shared
by the simulator and the client, so both see the same time), and client construction."""

from __future__ import annotations

import random
import threading
from urllib.parse import urlencode

import requests

from planrunner.clock import SystemClock
from planrunner.exchanges.binance.client import BinanceClient, RetryPolicy
from planrunner.exchanges.binance.signing import HmacSigner, signed_payload
from planrunner.exchanges.http import RequestsTransport

API_KEY = "sim-test-key-0123456789abcdef"
API_SECRET = "sim-test-secret-fedcba9876543210"


class JumpClock:
    """Wall time plus every sleep so far: sleeping returns at once but moves time forward."""

    def __init__(self) -> None:
        self._wall = SystemClock()
        self._jumped_ms = 0
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now_ms(self) -> int:
        with self._lock:
            return self._wall.now_ms() + self._jumped_ms

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._jumped_ms += max(0, int(seconds * 1000))


def make_client(base_url: str, clock, *, secret: str = API_SECRET, key: str = API_KEY,
                **kw) -> BinanceClient:
    retry = kw.pop("retry", RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05))
    return BinanceClient(transport=RequestsTransport(), clock=clock, signer=HmacSigner(key, secret),
                         base_url=base_url, name="binance-sim", retry=retry,
                         rng=random.Random(7), timeout=kw.pop("timeout", 5.0), **kw)


class RawApi:
    """Signed Binance calls with `requests` directly, to look at the simulator's raw JSON."""

    def __init__(self, base_url: str, clock):
        self._base, self._clock = base_url, clock
        self._session = requests.Session()
        self._session.headers["X-MBX-APIKEY"] = API_KEY
        self._signer = HmacSigner(API_KEY, API_SECRET)

    def call(self, method: str, path: str, signed: bool = True, **params: str):
        pairs = list(params.items())
        if signed:
            pairs.append(("timestamp", str(self._clock.now_ms())))
            query = signed_payload(pairs, self._signer)
        else:
            query = urlencode(pairs)
        answer = self._session.request(method, f"{self._base}{path}?{query}", timeout=5)
        return answer.status_code, answer.json(), answer.headers
