"""PaperExchange: a new account, market time and the feed, persistence across instances, refusals."""

from __future__ import annotations

import json
import os
import stat
from decimal import Decimal

import pytest

from planrunner.clock import ManualClock
from planrunner.errors import CompileError, OrderRejected, StateCorrupt, StateError
from planrunner.exchanges.base import Exchange, ExchangeRequest, OrderStatus
from planrunner.exchanges.factory import (PAPER_OPENING_PRICES, open_paper_exchange,
                                          paper_capabilities, paper_market_context)
from planrunner.exchanges.paper.exchange import DEFAULT_BALANCES
from planrunner.exchanges.paper.feed import FEED_START_MS, FeedError, bundled_samples, load_klines

SAMPLE = load_klines(bundled_samples("BTCUSDT"))


def limit_buy(price: str, cid: str, qty: str = "0.001") -> ExchangeRequest:
    return ExchangeRequest("POST", "/api/v3/order", (
        ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
        ("quantity", qty), ("price", price), ("newClientOrderId", cid)))


@pytest.fixture
def account(tmp_path):
    return tmp_path / "paper" / "account.json"


def open_at(account, clock=None, speed=0, **kw):
    return open_paper_exchange(account, clock=clock or ManualClock(), speed=speed, **kw)


def test_new_account_opens_at_the_paper_opening_prices_with_default_balances(account):
    paper = open_at(account)
    assert isinstance(paper, Exchange)
    assert paper.market_time_ms == FEED_START_MS
    assert {s: paper.last_price(s) for s in PAPER_OPENING_PRICES} == PAPER_OPENING_PRICES
    assert {b.asset: b.free for b in paper.balances() if b.free} == dict(DEFAULT_BALANCES)
    assert stat.S_IMODE(os.stat(account).st_mode) == 0o600


def test_market_context_matches_the_planning_context(account):
    paper = open_at(account)
    assert paper.market_context("ETHUSDT") == paper_market_context("ETHUSDT")
    assert paper.capabilities() == paper_capabilities()
    with pytest.raises(CompileError, match="no symbol DOGEUSDT; it knows BNBBTC, BTCUSDT"):
        paper.market_context("DOGEUSDT")


def test_speed_turns_wall_time_into_feed_trades(account):
    clock = ManualClock()
    paper = open_at(account, clock, speed=60)
    clock.advance(1_000)  # one wall second = one market minute
    paper.advance()
    assert paper.market_time_ms == FEED_START_MS + 60_000
    assert paper.last_price("BTCUSDT") == SAMPLE[1].open


def test_resting_order_fills_on_the_documented_intra_candle_path(account):
    first = SAMPLE[0]
    assert first.high - first.open < first.open - first.low  # high is visited before the low
    limit = first.low + Decimal("1")
    paper = open_at(account)
    paper.submit(limit_buy(str(limit), "path-1"))
    assert paper.advance(FEED_START_MS + 39_999) == []
    assert paper.last_price("BTCUSDT") == first.high
    changes = paper.advance(FEED_START_MS + 40_000)
    assert [(c.client_order_id, c.status) for c in changes] == [("path-1", OrderStatus.FILLED)]
    assert changes[0].cumulative_quote_qty == Decimal("0.001") * limit


def test_step_delivers_exactly_the_next_trade_time(account):
    paper = open_at(account)
    paper.step()
    assert paper.market_time_ms == FEED_START_MS + 20_000
    assert paper.last_price("BTCUSDT") == max(SAMPLE[0].high, SAMPLE[0].low,
                                              key=lambda p: -abs(p - SAMPLE[0].open))


def test_orders_and_market_time_persist_into_the_next_instance(account):
    clock = ManualClock()
    first = open_at(account, clock, speed=3600)
    placed = first.submit(limit_buy("7000.00", "persist-1"))
    clock.advance(1_000)
    first.advance()
    moved_to, price = first.market_time_ms, first.last_price("BTCUSDT")
    assert moved_to == FEED_START_MS + 3_600_000
    clock.advance(600_000)  # time between runs does not move the paper market
    second = open_at(account, clock, speed=3600)
    assert (second.market_time_ms, second.last_price("BTCUSDT")) == (moved_to, price)
    again = second.query_order("BTCUSDT", "persist-1")
    assert (again.order_id, again.status) == (placed.order_id, OrderStatus.NEW)
    assert [o.client_order_id for o in second.open_orders("BTCUSDT")] == ["persist-1"]
    assert second.balances() == first.balances()
    second.cancel_order("BTCUSDT", "persist-1")
    assert open_at(account).open_orders("BTCUSDT") == ()


def test_engine_rejections_pass_through_and_change_nothing(account):
    paper = open_at(account)
    before = account.read_bytes()
    with pytest.raises(OrderRejected) as info:
        paper.submit(limit_buy("7000.00", "lot-1", qty="0.0000001"))
    assert info.value.code == -1013 and "LOT_SIZE" in str(info.value)
    assert account.read_bytes() == before


def test_corrupt_account_is_refused_and_left_untouched(account):
    open_at(account).submit(limit_buy("7000.00", "c-1"))
    truncated = account.read_bytes()[:-40]
    account.write_bytes(truncated)
    with pytest.raises(StateCorrupt, match="not valid JSON"):
        open_at(account)
    assert account.read_bytes() == truncated


@pytest.mark.parametrize("part, key", [("engine", "ledger"), ("feed_position", "cursors")])
def test_malformed_engine_or_feed_state_is_refused(account, part, key):
    open_at(account)
    data = json.loads(account.read_text())
    del data[part][key]
    account.write_text(json.dumps(data))
    before = account.read_bytes()
    with pytest.raises(StateCorrupt, match="contents are malformed"):
        open_at(account)
    assert account.read_bytes() == before


def test_another_feed_for_an_existing_account_is_refused(account):
    open_at(account, seed=1)
    with pytest.raises(StateError, match="different price feed"):
        open_at(account, seed=2)
    assert open_at(account).market_time_ms == FEED_START_MS


def test_env_var_chooses_the_account_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANRUNNER_PAPER_DIR", str(tmp_path / "elsewhere"))
    open_paper_exchange(clock=ManualClock(), speed=0)
    assert (tmp_path / "elsewhere" / "account.json").exists()


def test_user_kline_files_replace_the_sample_and_bad_rows_are_named(account, tmp_path):
    good = tmp_path / "eth.csv"
    good.write_text(f"{FEED_START_MS},200.00,201.00,199.00,200.50,1,{FEED_START_MS + 59_999},1,1,1,1,0\n")
    paper = open_at(account, kline_files={"ETHUSDT": [str(good)]})
    assert paper.last_price("ETHUSDT") == Decimal("200.00")
    bad = tmp_path / "bad.csv"
    bad.write_text(good.read_text() + "oops\n")
    with pytest.raises(FeedError, match=r"bad.csv:2: expected 12 comma-separated columns"):
        open_at(tmp_path / "other" / "account.json", kline_files={"ETHUSDT": [str(bad)]})


def test_polling_a_frozen_market_does_not_rewrite_the_account(account):
    paper = open_at(account, speed=0)
    stamp = os.stat(account).st_mtime_ns
    os.utime(account, ns=(stamp - 10**9, stamp - 10**9))
    assert paper.advance() == []
    assert os.stat(account).st_mtime_ns == stamp - 10**9


def test_test_order_validates_without_placing(account):
    paper = open_at(account)
    paper.test_order(limit_buy("7000.00", "t-1"))
    with pytest.raises(OrderRejected, match="LOT_SIZE"):
        paper.test_order(limit_buy("7000.00", "t-2", qty="0.0000001"))
    assert paper.open_orders("BTCUSDT") == ()
