"""Decimal money: strict parsing, rounding to a tick or step grid, and wire formatting.

No float ever reaches this module's outputs: a float input is refused, because by the time a
price is a float it may already be wrong (0.1 + 0.2).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation, localcontext
from enum import StrEnum

ZERO = Decimal(0)
HUNDRED = Decimal(100)


class Rounding(StrEnum):
    DOWN = "down"  # toward minus infinity on the grid
    UP = "up"  # toward plus infinity on the grid


def to_decimal(value: object) -> Decimal:
    """Parse an exact decimal from str, int or Decimal. Raises ValueError on floats and junk."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"refusing inexact number {value!r}: write it as a string or exact decimal")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    else:
        raise ValueError(f"not a number: {value!r}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def quantize_to(value: Decimal, increment: Decimal, rounding: Rounding) -> Decimal:
    """Round `value` onto the grid k * increment. An increment of 0 means "no grid"."""
    if increment <= ZERO:
        return value
    with localcontext() as ctx:
        ctx.prec = 60
        steps = (value / increment).to_integral_value(
            rounding=ROUND_FLOOR if rounding is Rounding.DOWN else ROUND_CEILING)
        result = steps * increment
    return result.quantize(increment) if result != ZERO else ZERO.quantize(increment)


def floor_to(value: Decimal, increment: Decimal) -> Decimal:
    return quantize_to(value, increment, Rounding.DOWN)


def ceil_to(value: Decimal, increment: Decimal) -> Decimal:
    return quantize_to(value, increment, Rounding.UP)


def is_on_grid(value: Decimal, increment: Decimal) -> bool:
    if increment <= ZERO:
        return True
    with localcontext() as ctx:
        ctx.prec = 60
        return (value / increment) == (value / increment).to_integral_value()


def fmt(value: Decimal) -> str:
    """Plain decimal string for the wire and for people: no exponent, no trailing zeros."""
    if value == ZERO:
        return "0"
    text = format(value.normalize(), "f")
    return text


def percent_of(value: Decimal, percent: Decimal) -> Decimal:
    return value * percent / HUNDRED
