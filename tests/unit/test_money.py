"""money: exact parsing, grid rounding, wire formatting."""

from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from planrunner.money import Rounding, ceil_to, floor_to, fmt, is_on_grid, quantize_to, to_decimal


@pytest.mark.parametrize("raw, expected", [
    ("0.1", Decimal("0.1")), (7, Decimal(7)), (Decimal("1.50"), Decimal("1.50")), (" 65000 ", Decimal(65000)),
])
def test_to_decimal_accepts_exact_inputs(raw, expected):
    assert to_decimal(raw) == expected


@pytest.mark.parametrize("raw", [0.1, True, "abc", "NaN", "Infinity", None, [1]])
def test_to_decimal_refuses_floats_and_junk(raw):
    with pytest.raises(ValueError):
        to_decimal(raw)


@pytest.mark.parametrize("value, step, rounding, expected", [
    ("0.0123456", "0.00001", Rounding.DOWN, "0.01234"),
    ("0.0123456", "0.00001", Rounding.UP, "0.01235"),
    ("65000.005", "0.01", Rounding.DOWN, "65000.00"),
    ("65000.005", "0.01", Rounding.UP, "65000.01"),
    ("65000.00", "0.01", Rounding.UP, "65000.00"),
    ("0.00190049", "0.000001", Rounding.DOWN, "0.001900"),
    ("5", "0", Rounding.DOWN, "5"),
])
def test_quantize_table(value, step, rounding, expected):
    assert quantize_to(Decimal(value), Decimal(step), rounding) == Decimal(expected)


steps = st.sampled_from([Decimal(s) for s in ("0.00001", "0.0001", "0.001", "0.01", "0.000001", "1", "0.5")])
values = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("1000000"), places=8,
                     allow_nan=False, allow_infinity=False)


@given(values, steps)
def test_floor_never_rounds_up_and_lands_on_grid(value, step):
    result = floor_to(value, step)
    assert result <= value
    assert value - result < step
    assert is_on_grid(result, step)


@given(values, steps)
def test_ceil_never_rounds_down_and_lands_on_grid(value, step):
    result = ceil_to(value, step)
    assert result >= value
    assert result - value < step
    assert is_on_grid(result, step)


@pytest.mark.parametrize("value, text", [
    (Decimal("0.00100000"), "0.001"), (Decimal("65000.00"), "65000"), (Decimal("1E+3"), "1000"),
    (Decimal("0E-8"), "0"), (Decimal("-2.50"), "-2.5"),
])
def test_fmt_is_plain_without_exponent_or_trailing_zeros(value, text):
    assert fmt(value) == text
