"""Fixtures: a simulator started in-process on a free loopback port, its control client, and the
real BinanceClient (RequestsTransport) pointed at it."""

from __future__ import annotations

import pytest
from sim_helpers import API_KEY, API_SECRET, JumpClock, make_client

from planrunner.sim.remote import SimControl
from planrunner.sim.server import SimOptions, start_simulator


@pytest.fixture
def clock() -> JumpClock:
    return JumpClock()


@pytest.fixture
def sim(clock):
    running = start_simulator(SimOptions(api_key=API_KEY, api_secret=API_SECRET), clock=clock)
    yield running
    running.stop()


@pytest.fixture
def control(sim) -> SimControl:
    return SimControl(sim.base_url)


@pytest.fixture
def client(sim, clock):
    return make_client(sim.base_url, clock)
