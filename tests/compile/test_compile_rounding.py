"""Rounding policy: table tests and properties (never up for quantities, stops toward safety,
always on the grid)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planrunner.money import is_on_grid
from planrunner.plan.model import PriceExpr, PriceKind, Side, Stop
from planrunner.sizing import (entry_limit_price, floor_qty, split_quantity, stop_limit_price, stop_prices,
                               stop_trigger_price, take_profit_price)

D = Decimal
BUY, SELL = Side.BUY, Side.SELL
TICK = D("0.01")


@pytest.mark.parametrize("fn, side, value, expected", [
    (entry_limit_price, BUY, "7100.019", "7100.01"),   # a buy never pays more than asked
    (entry_limit_price, SELL, "7100.011", "7100.02"),  # a sell never receives less
    (take_profit_price, SELL, "7313.001", "7313.01"),  # exit sell never for less
    (take_profit_price, BUY, "6887.999", "6887.99"),   # exit buy-back never for more
    (stop_trigger_price, SELL, "6958.001", "6958.01"),  # a sell stop fires a little earlier
    (stop_trigger_price, BUY, "7446.009", "7446"),      # a buy stop fires a little earlier
    (stop_limit_price, SELL, "6937.129", "6937.12"),    # away from the trigger
    (stop_limit_price, BUY, "7468.341", "7468.35"),
    (entry_limit_price, BUY, "7100", "7100"),           # on-grid values stay put
])
def test_price_rounding_table(fn, side, value, expected):
    assert fn(D(value), side, TICK) == D(expected)


@pytest.mark.parametrize("total, portions, step, expected", [
    ("0.01", ("50", "50"), "0.00001", ("0.005", "0.005")),
    ("0.01", ("33.33", "33.33", "33.34"), "0.00001", ("0.00333", "0.00333", "0.00334")),
    ("0.00007", ("50", "50"), "0.00001", ("0.00003", "0.00004")),  # the last slice takes the rest
    ("1", ("100",), "0.001", ("1",)),
    ("1.2345", ("25", "75"), "0.01", ("0.3", "0.93")),
])
def test_split_quantity_table(total, portions, step, expected):
    got = split_quantity(floor_qty(D(total), D(step)), tuple(D(p) for p in portions), D(step))
    assert got == tuple(D(e) for e in expected)


grids = st.sampled_from([D("0.01"), D("0.00001"), D("0.001"), D("0.000001"), D("0.5"), D("1")])
values = st.decimals(min_value=D("0.000001"), max_value=D("1000000"), places=8, allow_nan=False,
                     allow_infinity=False)
sides = st.sampled_from([BUY, SELL])


@settings(max_examples=200, deadline=None)
@given(values, grids)
def test_quantity_never_rounds_up_and_lands_on_the_step(value, step):
    result = floor_qty(value, step)
    assert result <= value and value - result < step
    assert is_on_grid(result, step)


@settings(max_examples=200, deadline=None)
@given(values, grids, sides)
def test_stop_trigger_moves_only_toward_safety(value, tick, exit_side):
    trigger = stop_trigger_price(value, exit_side, tick)
    assert is_on_grid(trigger, tick) and abs(trigger - value) < tick
    # SELL stops guard a long: firing higher is safer; BUY stops guard a short: firing lower is safer
    assert trigger >= value if exit_side is SELL else trigger <= value


@settings(max_examples=200, deadline=None)
@given(values, st.decimals(min_value=D(0), max_value=D(10), places=3), grids, sides)
def test_rounded_stop_limit_never_crosses_its_trigger(reference, gap_pct, tick, exit_side):
    sign = -1 if exit_side is SELL else 1
    stop = Stop(PriceExpr(PriceKind.ABSOLUTE, reference), PriceExpr(PriceKind.PERCENT, sign * gap_pct))
    trigger, limit = stop_prices(stop, reference, exit_side, tick)
    assert is_on_grid(trigger, tick) and is_on_grid(limit, tick)
    assert limit <= trigger if exit_side is SELL else limit >= trigger


@settings(max_examples=200, deadline=None)
@given(values, grids, sides)
def test_take_profit_and_entry_prices_never_worse_than_asked(value, tick, side):
    tp = take_profit_price(value, side, tick)
    entry = entry_limit_price(value, side, tick)
    assert is_on_grid(tp, tick) and is_on_grid(entry, tick)
    assert tp >= value if side is SELL else tp <= value
    assert entry <= value if side is BUY else entry >= value


@settings(max_examples=200, deadline=None)
@given(values, st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=8), grids)
def test_split_never_exceeds_the_total_and_stays_on_the_step(total, weights, step):
    portions = tuple(D(w) * 100 / sum(weights) for w in weights)
    parts = split_quantity(floor_qty(total, step), portions, step)
    assert len(parts) == len(weights)
    assert sum(parts) <= total and all(p >= 0 and is_on_grid(p, step) for p in parts)
