"""Market time runs `speed` times faster than the (manual) wall clock; nothing sleeps."""

from decimal import Decimal

import pytest

from planrunner.clock import ManualClock
from planrunner.exchanges.paper.exchange import MarketClock
from planrunner.exchanges.paper.feed import FeedError


def test_speed_3600_turns_a_wall_second_into_a_market_hour():
    wall = ManualClock(start_ms=5_000)
    market = MarketClock(wall, market_ms=1_000_000, speed=3600)
    assert market.now_ms() == 1_000_000
    wall.advance(1_000)
    assert market.now_ms() == 1_000_000 + 3_600_000


def test_fractional_speed_and_reanchoring():
    wall = ManualClock()
    market = MarketClock(wall, market_ms=0, speed=Decimal("0.5"))
    wall.advance(1_001)
    assert market.now_ms() == 500
    market.reanchor(10_000)
    wall.advance(2_000)
    assert market.now_ms() == 11_000


def test_speed_zero_freezes_market_time():
    wall = ManualClock()
    market = MarketClock(wall, market_ms=42, speed=0)
    wall.advance(60_000)
    assert market.now_ms() == 42


def test_negative_speed_is_refused():
    with pytest.raises(FeedError, match="speed must be zero or positive"):
        MarketClock(ManualClock(), market_ms=0, speed=-1)
