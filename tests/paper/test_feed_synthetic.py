"""The seeded synthetic walk: deterministic per seed, on the tick grid, Decimal only."""

from decimal import Decimal

import pytest

from planrunner.exchanges.paper.feed import (FEED_START_MS, FeedError, FeedState, PriceFeed,
                                             SyntheticSource, default_feed, synthetic_candle)

TICK = Decimal("0.01")
DAY_MS = 86_400_000


def _walk(seed, symbol="ETHUSDT", start="130.00", until=DAY_MS):
    feed = PriceFeed({symbol: SyntheticSource(symbol, Decimal(start), TICK, seed)})
    ticks, _ = feed.advance(feed.initial_state(), FEED_START_MS + until)
    return [t.price for t in ticks]


def test_same_seed_same_path_other_seed_other_path():
    assert _walk(7) == _walk(7)
    assert _walk(7) != _walk(8)


def test_symbols_with_the_same_seed_walk_differently():
    eth = _walk(1, "ETHUSDT", "150.00", 3_600_000)
    sol = _walk(1, "SOLUSDT", "150.00", 3_600_000)
    assert eth != sol


def test_walk_starts_at_the_opening_price_and_stays_on_the_grid():
    prices = _walk(4)
    assert prices[0] == Decimal("130.00")
    assert all(isinstance(p, Decimal) and p % TICK == 0 and p > 0 for p in prices)
    assert prices != [prices[0]] * len(prices)


def test_candle_is_consistent_and_moves_at_most_six_bps_per_substep():
    previous = Decimal("130.00")
    for index in range(500):
        candle = synthetic_candle("ETHUSDT", 9, index, 0, previous, TICK)
        assert candle.low <= min(candle.open, candle.close) <= max(candle.open, candle.close) <= candle.high
        assert candle.high <= candle.open * Decimal("1.0006") ** 6 + TICK
        previous = candle.close


def test_resuming_from_a_saved_position_continues_the_same_path():
    feed = PriceFeed({"ETHUSDT": SyntheticSource("ETHUSDT", Decimal("130.00"), TICK, 5)})
    whole, _ = feed.advance(feed.initial_state(), FEED_START_MS + 7_200_000)
    head, middle = feed.advance(feed.initial_state(), FEED_START_MS + 1_234_567)
    restored = FeedState.from_dict(middle.to_dict())
    tail, _ = PriceFeed.from_spec(feed.spec()).advance(restored, FEED_START_MS + 7_200_000)
    assert head + tail == whole


def test_default_feed_replays_btc_sample_and_walks_the_rest():
    feed = default_feed({"BTCUSDT": TICK, "ETHUSDT": TICK}, {"ETHUSDT": Decimal("130.00")}, seed=2)
    spec = feed.spec()["symbols"]
    assert spec["BTCUSDT"]["kind"] == "replay"
    assert spec["ETHUSDT"] == {"kind": "synthetic", "start_price": "130.00", "tick_size": "0.01",
                               "seed": 2, "start_ms": FEED_START_MS}
    assert feed.opening_price("BTCUSDT") == Decimal("7195.24")


def test_user_files_open_the_market_at_their_own_first_candle(tmp_path):
    later = FEED_START_MS + 4 * 365 * DAY_MS
    path = tmp_path / "sol.csv"
    path.write_text(f"{later},151.00,152.00,150.00,151.50,1,{later + 59_999},1,1,1,1,0\n")
    feed = default_feed({"BTCUSDT": TICK, "SOLUSDT": TICK}, {"BTCUSDT": Decimal("7195.24")},
                        kline_files={"SOLUSDT": [str(path)]})
    assert feed.start_ms == later
    assert feed.spec()["symbols"]["BTCUSDT"]["kind"] == "synthetic"
    assert feed.spec()["symbols"]["SOLUSDT"]["files"] == [str(path.resolve())]
    ticks, _ = feed.advance(feed.initial_state(), later)
    assert {(t.symbol, t.price) for t in ticks} == {("BTCUSDT", Decimal("7195.24")),
                                                     ("SOLUSDT", Decimal("151.00"))}


def test_files_for_an_unknown_symbol_are_refused():
    with pytest.raises(FeedError, match="price files given for unknown symbols: DOGEUSDT"):
        default_feed({"BTCUSDT": TICK}, {}, kline_files={"DOGEUSDT": ["x.csv"]})
