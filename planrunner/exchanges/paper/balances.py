"""The paper account's ledger: free funds per asset and named holds (locked funds) per order.

An order (or an OCO pair, which shares one hold) locks funds under a hold key when it goes on the
book; fills spend from that hold first and from free funds after it; what is left of a hold goes
back to free when nothing open uses it any more. Nothing here ever goes negative: a spend that the
hold plus free funds cannot cover raises before any number changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from planrunner.errors import InsufficientFunds
from planrunner.exchanges.base import Balance
from planrunner.money import ZERO, to_decimal

INSUFFICIENT = "Account has insufficient balance for requested action."


def insufficient() -> InsufficientFunds:
    return InsufficientFunds(INSUFFICIENT, code=-2010, venue_message=INSUFFICIENT)


class Ledger:
    """Free balances and holds. Mutable on purpose: it is the account the engine updates."""

    def __init__(self, free: Mapping[str, Decimal] | None = None):
        self._free: dict[str, Decimal] = {}
        self._holds: dict[str, tuple[str, Decimal]] = {}
        for asset, amount in (free or {}).items():
            if amount < ZERO:
                raise ValueError(f"starting balance of {asset} is negative: {amount}")
            self._free[asset] = amount

    def free(self, asset: str) -> Decimal:
        return self._free.get(asset, ZERO)

    def held(self, key: str) -> Decimal:
        return self._holds[key][1] if key in self._holds else ZERO

    def hold(self, key: str, asset: str, amount: Decimal) -> None:
        """Move `amount` from free to the hold `key`; InsufficientFunds if free is short."""
        if amount > self.free(asset):
            raise insufficient()
        self._free[asset] = self.free(asset) - amount
        _, current = self._holds.get(key, (asset, ZERO))
        self._holds[key] = (asset, current + amount)

    def can_spend(self, key: str | None, asset: str, amount: Decimal) -> bool:
        return self._from_hold(key, asset) + self.free(asset) >= amount

    def spend(self, key: str | None, asset: str, amount: Decimal) -> None:
        """Pay `amount` of `asset` from the hold first, then from free funds."""
        if not self.can_spend(key, asset, amount):
            raise insufficient()
        from_hold = min(amount, self._from_hold(key, asset))
        if from_hold > ZERO and key is not None:
            self._holds[key] = (asset, self._holds[key][1] - from_hold)
        self._free[asset] = self.free(asset) - (amount - from_hold)

    def credit(self, asset: str, amount: Decimal) -> None:
        self._free[asset] = self.free(asset) + amount

    def release(self, key: str) -> None:
        """Return what is left of a hold to free funds (no-op for an unknown key)."""
        if key in self._holds:
            asset, amount = self._holds.pop(key)
            self.credit(asset, amount)

    def _from_hold(self, key: str | None, asset: str) -> Decimal:
        if key is None or key not in self._holds or self._holds[key][0] != asset:
            return ZERO
        return self._holds[key][1]

    def balances(self) -> tuple[Balance, ...]:
        locked: dict[str, Decimal] = {}
        for asset, amount in self._holds.values():
            locked[asset] = locked.get(asset, ZERO) + amount
        assets = sorted(set(self._free) | set(locked))
        return tuple(Balance(a, self.free(a), locked.get(a, ZERO)) for a in assets)

    def to_dict(self) -> dict[str, Any]:
        return {"free": {a: str(v) for a, v in sorted(self._free.items())},
                "holds": {k: [a, str(v)] for k, (a, v) in sorted(self._holds.items())}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ledger:
        try:
            ledger = cls({str(a): to_decimal(v) for a, v in dict(data["free"]).items()})
            for key, (asset, amount) in dict(data["holds"]).items():
                ledger._holds[str(key)] = (str(asset), to_decimal(amount))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"paper balances are malformed ({exc!r}); expected "
                             "{'free': {asset: amount}, 'holds': {key: [asset, amount]}}") from None
        return ledger
