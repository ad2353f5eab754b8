"""The intra-candle path and the merged multi-symbol tick stream."""

from decimal import Decimal

import pytest

from planrunner.exchanges.paper.feed import (FEED_START_MS, Candle, PriceFeed, ReplaySource,
                                             SyntheticSource, candle_ticks)

T0 = 1_577_836_800_000


def _candle(o, h, lo, c):
    return Candle(T0, Decimal(o), Decimal(h), Decimal(lo), Decimal(c))


@pytest.mark.parametrize("o, h, lo, c, expected", [
    ("100", "101", "95", "99", ["100", "101", "95", "99"]),  # high nearer: high first
    ("100", "110", "99", "105", ["100", "99", "110", "105"]),  # low nearer: low first
    ("100", "102", "98", "101", ["100", "98", "102", "101"]),  # tie: low first (pessimistic)
    ("100", "100", "100", "100", ["100", "100", "100", "100"]),  # flat candle still four ticks
])
def test_open_nearer_extreme_farther_extreme_close(o, h, lo, c, expected):
    ticks = candle_ticks(_candle(o, h, lo, c))
    assert [t.price for t in ticks] == [Decimal(p) for p in expected]


def test_ticks_are_spread_over_the_minute_ending_at_close_time():
    ticks = candle_ticks(_candle("100", "101", "95", "99"))
    assert [t.time_ms - T0 for t in ticks] == [0, 20_000, 40_000, 59_999]


def _replay(tmp_path, rows):
    path = tmp_path / "k.csv"
    lines = [f"{T0 + i * 60_000},{o},{h},{lo},{c},1,{T0 + i * 60_000 + 59_999},1,1,1,1,0"
             for i, (o, h, lo, c) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return ReplaySource.from_files("BTCUSDT", [str(path)], Decimal("0.01"), seed=3)


def test_advance_delivers_each_tick_once_in_time_order(tmp_path):
    source = _replay(tmp_path, [("100", "101", "95", "99"), ("99", "99.5", "90", "92")])
    feed = PriceFeed({"BTCUSDT": source}, start_ms=T0)
    state = feed.initial_state()
    first, state = feed.advance(state, T0 + 30_000)
    second, state = feed.advance(state, T0 + 60_000 + 59_999)
    assert [t.price for t in first] == [Decimal("100"), Decimal("101")]
    assert [t.price for t in second] == [Decimal(p) for p in ("95", "99", "99", "99.5", "90", "92")]
    assert state.market_time_ms == T0 + 119_999
    assert state.cursor("BTCUSDT").index == 2


def test_replay_continues_with_the_walk_from_its_last_close(tmp_path):
    source = _replay(tmp_path, [("100", "101", "95", "99")])
    continued = source.candle(1, Decimal("99"))
    assert continued.open == Decimal("99")
    assert continued.open_time_ms == T0 + 60_000
    assert continued == source.candle(1, Decimal("99"))


def test_symbols_are_merged_by_time_then_symbol():
    feed = PriceFeed({
        "SOLUSDT": SyntheticSource("SOLUSDT", Decimal("150.00"), Decimal("0.01")),
        "ETHUSDT": SyntheticSource("ETHUSDT", Decimal("130.00"), Decimal("0.01")),
    })
    ticks, _ = feed.advance(feed.initial_state(), FEED_START_MS + 120_000)
    keys = [(t.time_ms, t.symbol) for t in ticks]
    assert keys == sorted(keys)
    assert len(ticks) == 2 * 9  # two full candles plus the third's opening trade, per symbol
    assert ticks[0].symbol == "ETHUSDT" and ticks[0].price == Decimal("130.00")


def test_next_tick_ms_points_at_the_first_undelivered_trade():
    feed = PriceFeed({"ETHUSDT": SyntheticSource("ETHUSDT", Decimal("130.00"), Decimal("0.01"))})
    state = feed.initial_state()
    assert feed.next_tick_ms(state) == FEED_START_MS
    _, state = feed.advance(state, FEED_START_MS + 25_000)
    assert feed.next_tick_ms(state) == FEED_START_MS + 40_000


def test_advancing_backwards_or_in_place_delivers_nothing():
    feed = PriceFeed({"ETHUSDT": SyntheticSource("ETHUSDT", Decimal("130.00"), Decimal("0.01"))})
    _, state = feed.advance(feed.initial_state(), FEED_START_MS + 60_000)
    assert feed.advance(state, FEED_START_MS) == ([], state)
