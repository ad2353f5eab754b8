"""Kline CSV parsing: data.binance.vision rows in ms and µs, headers, and malformed rows."""

from decimal import Decimal

import pytest

from planrunner.exchanges.paper.feed import (FeedError, bundled_samples, load_klines,
                                             parse_kline_csv)

MS_ROW = ("1577836800000,7195.24000000,7196.25000000,7183.14000000,7186.68000000,51.64281200,"
          "1577836859999,371233.51835535,493,19.59823000,140888.41428273,0")
US_ROW = ("1735689600000000,93576.00000000,93610.93000000,93537.50000000,93610.93000000,8.21827000,"
          "1735689659999999,768978.03,1960,3.23,302000.1,0")
HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,"
          "taker_buy_volume,taker_buy_quote_volume,ignore")


def test_millisecond_row_parses_exactly():
    (candle,) = parse_kline_csv(MS_ROW + "\n", "a.csv")
    assert candle.open_time_ms == 1577836800000
    assert (candle.open, candle.high, candle.low, candle.close) == (
        Decimal("7195.24"), Decimal("7196.25"), Decimal("7183.14"), Decimal("7186.68"))
    assert candle.interval_ms == 60_000


def test_microsecond_row_is_sniffed_and_converted_to_ms():
    (candle,) = parse_kline_csv(US_ROW, "b.csv")
    assert candle.open_time_ms == 1735689600000
    assert candle.interval_ms == 60_000
    assert candle.high == Decimal("93610.93")


def test_header_row_is_tolerated_and_blank_lines_skipped():
    candles = parse_kline_csv(f"{HEADER}\n{MS_ROW}\n\n", "h.csv")
    assert [c.open_time_ms for c in candles] == [1577836800000]


@pytest.mark.parametrize("bad_row, reason", [
    ("1577836860000,1,2,0.5,1.5,0,1577836919999,0,0,0,0", "12 comma-separated columns"),
    ("1577836860000,abc,2,0.5,1.5,0,1577836919999,0,0,0,0,0", "open 'abc' is not a number"),
    ("1577836860000,1,2,0.5,-1.5,0,1577836919999,0,0,0,0,0", "close '-1.5' must be a positive"),
    ("1577836860000,1,2,1.2,1.5,0,1577836919999,0,0,0,0,0", "prices are inconsistent"),
    ("1577836860000,1,2,0.5,1.5,0,1577836860000,0,0,0,0,0", "close time is not after"),
    ("15778368600x0,1,2,0.5,1.5,0,1577836919999,0,0,0,0,0", "open time '15778368600x0'"),
])
def test_malformed_row_names_file_and_line(bad_row, reason):
    with pytest.raises(FeedError) as info:
        parse_kline_csv(f"{HEADER}\n{MS_ROW}\n{bad_row}\n", "data/prices.csv")
    assert str(info.value).startswith("data/prices.csv:3: ")
    assert reason in str(info.value)


def test_rows_out_of_time_order_are_refused_with_line():
    with pytest.raises(FeedError, match=r"^x.csv:2: open time 1577836800000 is not after"):
        parse_kline_csv(f"{MS_ROW}\n{MS_ROW}\n", "x.csv")


def test_empty_file_is_refused():
    with pytest.raises(FeedError, match="no kline rows"):
        parse_kline_csv(HEADER + "\n", "empty.csv")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FeedError, match="cannot read price file .*nope.csv"):
        load_klines([str(tmp_path / "nope.csv")])


def test_files_are_concatenated_in_time_order(tmp_path):
    first, second = tmp_path / "1.csv", tmp_path / "2.csv"
    first.write_text(MS_ROW + "\n")
    second.write_text(US_ROW + "\n")
    assert len(load_klines([str(first), str(second)])) == 2
    with pytest.raises(FeedError, match="starts before the previous file ends"):
        load_klines([str(second), str(first)])


def test_bundled_btcusdt_sample_is_three_real_days():
    names = bundled_samples("BTCUSDT")
    assert names == tuple(f"sample:BTCUSDT-1m-2020-01-0{d}.csv" for d in (1, 2, 3))
    candles = load_klines(names)
    assert len(candles) == 3 * 1440
    assert candles[0].open == Decimal("7195.24")
    steps = {b.open_time_ms - a.open_time_ms for a, b in zip(candles, candles[1:])}
    assert steps == {60_000}
    assert bundled_samples("ETHUSDT") == ()
