"""The contract suite's venues: every Exchange adapter registered here runs every contract test.

A venue is an exchange plus a market driver (how the test moves the last traded price). To add an
adapter, write a factory `(tmp_path) -> Venue` and put it in VENUES; adapters that need outside
resources should skip inside their factory when those are missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Callable, Protocol

import pytest

from planrunner.clock import ManualClock
from planrunner.exchanges.base import Exchange


class MarketDriver(Protocol):
    """Moves a venue's market: a trade at `price` now. Paper calls the engine's set_price through
    the exchange; the simulator will implement it with POST /sim/price."""

    def set_price(self, symbol: str, price: Decimal) -> None: ...


@dataclass(frozen=True, slots=True)
class Venue:
    name: str
    exchange: Exchange
    market: MarketDriver
    close: Callable[[], None] | None = None  # releases what the factory started (a server)


class PaperMarket:
    def __init__(self, exchange):
        self._exchange = exchange

    def set_price(self, symbol: str, price: Decimal) -> None:
        self._exchange.set_price(symbol, price)


def paper_venue(tmp_path: Path) -> Venue:
    from planrunner.exchanges.factory import open_paper_exchange

    # speed 0 and a manual clock: the feed never moves the market behind the test's back
    exchange = open_paper_exchange(tmp_path / "paper" / "account.json", clock=ManualClock(), speed=0)
    return Venue("paper", exchange, PaperMarket(exchange))


def binance_sim_venue(tmp_path: Path) -> Venue:
    """The real BinanceClient over HTTP (RequestsTransport) against `planrunner sim` in process;
    the market moves through POST /sim/price."""
    from planrunner.clock import SystemClock
    from planrunner.exchanges.binance.client import BinanceClient, RetryPolicy
    from planrunner.exchanges.binance.signing import HmacSigner
    from planrunner.exchanges.http import RequestsTransport
    from planrunner.sim.remote import SimControl
    from planrunner.sim.server import SimOptions, start_simulator

    key, secret = "contract-sim-key", "contract-sim-secret"
    sim = start_simulator(SimOptions(api_key=key, api_secret=secret))
    client = BinanceClient(transport=RequestsTransport(), clock=SystemClock(),
                           signer=HmacSigner(key, secret), base_url=sim.base_url,
                           name="binance-sim", retry=RetryPolicy(attempts=2, base_delay=0.01))
    return Venue("binance-sim", client, SimControl(sim.base_url), close=sim.stop)


VENUES: dict[str, Callable[[Path], Venue]] = {
    "paper": paper_venue,
    "binance-sim": binance_sim_venue,
}


@pytest.fixture(params=sorted(VENUES))
def venue(request, tmp_path):
    made = VENUES[request.param](tmp_path)
    yield made
    if made.close is not None:
        made.close()


@pytest.fixture
def exchange(venue: Venue) -> Exchange:
    return venue.exchange


@pytest.fixture
def market(venue: Venue) -> MarketDriver:
    return venue.market
