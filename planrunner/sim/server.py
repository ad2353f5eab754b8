"""`planrunner sim`: options from the command line, the loopback ThreadingHTTPServer that carries
the simulator's requests to SimApp, the in-process handle tests use (`start_simulator`), and the
foreground runner that prints the base URL first and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import ipaddress
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from planrunner.clock import Clock, SystemClock
from planrunner.errors import PlanrunnerError
from planrunner.exchanges.factory import PAPER_OPENING_PRICES
from planrunner.exchanges.paper.exchange import DEFAULT_BALANCES
from planrunner.exchanges.paper.feed import default_feed
from planrunner.exchanges.rules import builtin_rules
from planrunner.sim.app import Reply, Request, SimApp
from planrunner.sim.auth import Credentials, load_ed25519_public_key
from planrunner.sim.faults import FaultBook
from planrunner.sim.market import SimMarket
from planrunner.sim.ratelimit import Limits, RateLimiter

_ASSET_RE = re.compile(r"^[A-Z0-9]{1,20}$")


class SimOptionError(PlanrunnerError):
    """A `planrunner sim` option is wrong; the message says which and how to fix it."""


@dataclass(frozen=True, slots=True)
class SimOptions:
    host: str = "127.0.0.1"
    port: int = 0
    price_files: tuple[tuple[str, str], ...] = ()  # (symbol, file)
    speed: Decimal = Decimal(0)
    balances: tuple[tuple[str, Decimal], ...] | None = None  # None: the paper account's
    api_key: str | None = None
    api_secret: str | None = None
    limits: Limits = field(default_factory=Limits)
    ed25519_public_key: str | None = None  # PEM file: the API key is an Ed25519 key, no secret

    @classmethod
    def from_cli(cls, *, host: str, port: int, prices: tuple[str, ...], speed: str,
                 balances: tuple[str, ...], api_key: str | None,
                 api_secret: str | None, ed25519_public_key: str | None = None) -> SimOptions:
        if ed25519_public_key is not None:
            if api_secret is not None:
                raise SimOptionError("an Ed25519 key has no secret: give --ed25519-public-key "
                                     "with or without --api-key, but without --api-secret")
            _ed25519(ed25519_public_key)
        elif (api_key is None) != (api_secret is None):
            raise SimOptionError("give --api-key and --api-secret together, or neither (then "
                                 "test-only keys are generated and printed)")
        return cls(host=_host(host), port=_port(port), price_files=tuple(map(_price_file, prices)),
                   speed=_speed(speed), balances=_balances(balances) if balances else None,
                   api_key=api_key, api_secret=api_secret, ed25519_public_key=ed25519_public_key)


def _ed25519(path: str) -> Any:
    try:
        return load_ed25519_public_key(path)
    except ValueError as exc:
        raise SimOptionError(f"--ed25519-public-key: {exc}") from None


def _host(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SimOptionError(f"--host {host} is not a loopback address; the simulator accepts "
                             "test keys and must not be reachable from other machines: use "
                             "127.0.0.1 or ::1")
    return host


def _port(port: int) -> int:
    if not 0 <= port <= 65535:
        raise SimOptionError(f"--port {port} is out of range; use 1-65535, or 0 for a free port")
    return port


def _speed(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0:
        raise SimOptionError(f"--speed {text!r} is not a number of market seconds per wall second; "
                             "use 0 (prices move only through /sim/price) or a positive number "
                             "such as 60")
    return value


def _price_file(text: str) -> tuple[str, str]:
    known = builtin_rules()
    symbol, sep, path = text.partition("=")
    if not sep:
        path, symbol = text, Path(text).name.split("-", 1)[0].upper()
    if symbol not in known:
        raise SimOptionError(f"--prices {text}: cannot tell which symbol it is for; name the file "
                             f"like BTCUSDT-1m-2020-01-01.csv or write SYMBOL=FILE "
                             f"(symbols: {', '.join(sorted(known))})")
    return symbol, path


def _balances(items: tuple[str, ...]) -> tuple[tuple[str, Decimal], ...]:
    out: dict[str, Decimal] = {}
    for item in items:
        asset, sep, amount = item.partition("=")
        asset = asset.strip().upper()
        try:
            value = Decimal(amount.strip()) if sep else Decimal(-1)
        except InvalidOperation:
            value = Decimal(-1)
        if not _ASSET_RE.match(asset) or not value.is_finite() or value < 0:
            raise SimOptionError(f"--balance {item!r} is not ASSET=AMOUNT with a non-negative "
                                 "decimal amount, e.g. --balance USDT=10000")
        if asset in out:
            raise SimOptionError(f"--balance gives {asset} twice; give each asset once")
        out[asset] = value
    return tuple(out.items())


# --- HTTP plumbing ------------------------------------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "planrunner-sim"

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", errors="replace") if length else ""
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, path, query, body, headers, self.client_address[0])
        self._write(self.server.app.handle(request))

    def _write(self, reply: Reply) -> None:
        if reply.drop:
            self.close_connection = True  # executed, but the client never hears back
            return
        if reply.delay_ms > 0:
            time.sleep(reply.delay_ms / 1000)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (a delay fault); so be it

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one quiet server; the client logs every call


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: SimApp

    def __init__(self, address: tuple[str, int], app: SimApp):
        self.address_family = _family(address[0])
        super().__init__(address, _Handler)
        self.app = app


def _family(host: str) -> Any:
    import socket

    return socket.AF_INET6 if ":" in host else socket.AF_INET


# --- running ------------------------------------------------------------------------------

class RunningSim:
    """A simulator serving on a background thread. `stop()` closes it."""

    def __init__(self, server: _Server, app: SimApp):
        self._server, self.app = server, app
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="planrunner-sim",
                                        daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}"

    @property
    def credentials(self) -> Credentials:
        return self.app.creds

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def build_app(options: SimOptions, clock: Clock | None = None) -> SimApp:
    clock = clock or SystemClock()
    rules = builtin_rules()
    files = {}
    for symbol, path in options.price_files:
        files.setdefault(symbol, []).append(path)
    feed = default_feed({s: r.tick_size for s, r in rules.items()}, PAPER_OPENING_PRICES,
                        kline_files=files or None)
    balances = dict(options.balances) if options.balances is not None else dict(DEFAULT_BALANCES)
    market = SimMarket(rules, feed, clock, options.speed, balances)
    if options.ed25519_public_key is not None:
        creds = Credentials.for_ed25519(_ed25519(options.ed25519_public_key), options.api_key)
    elif options.api_key is not None and options.api_secret is not None:
        creds = Credentials(options.api_key, options.api_secret)
    else:
        creds = Credentials.generate()
    return SimApp(market, creds, RateLimiter(clock, options.limits), FaultBook(), clock.now_ms)


def start_simulator(options: SimOptions = SimOptions(), *, clock: Clock | None = None) -> RunningSim:
    app = build_app(options, clock)
    try:
        server = _Server((options.host, options.port), app)
    except OSError as exc:
        raise SimOptionError(f"cannot listen on {options.host}:{options.port} "
                             f"({exc.strerror or exc}); pick another --port or 0 for a free one") from None
    return RunningSim(server, app)


def run_simulator(options: SimOptions, out: IO[str]) -> None:
    """Print the base URL first (then generated keys), serve until SIGINT or SIGTERM."""
    sim = start_simulator(options)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        out.write(f"{sim.base_url}\n")
        creds = sim.credentials
        if creds.generated:
            out.write(f"API key: {creds.api_key}\n")
            if creds.api_secret is not None:
                out.write(f"API secret: {creds.api_secret}  (test-only, generated)\n")
        keys = ("BINANCE_API_KEY / BINANCE_PRIVATE_KEY_FILE (the Ed25519 private key)"
                if creds.ed25519 is not None else "BINANCE_API_KEY / BINANCE_API_SECRET")
        out.write(f"Point planrunner at it: PLANRUNNER_BINANCE_URL={sim.base_url} with "
                  f"{keys} set to the keys it accepts. Ctrl-C stops it.\n")
        out.flush()
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sim.stop()
