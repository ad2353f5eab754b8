"""Injected faults (POST /sim/faults): what the simulator does wrong on purpose, for how many
requests, on which path. Kinds:

  error       execute the request, then answer 5xx (`status`, default 500) with -1000
  drop        execute the request, then close the connection without answering
  delay       execute the request, then wait `ms` before answering
  rate_limit  answer 429 (-1003) with Retry-After `retry_after` (default 1), executing nothing
  ban         answer 418 with Retry-After `retry_after` (default 120), executing nothing
  skew        move the server clock by `ms` (until cleared; `count` is ignored)
  partial     the next fill of a resting order on `symbol` (and `client_order_id`, if given)
              trades only `fraction` of it (kept by the market, see SimMarket.partial_fills)

`path` limits a fault to one request path (default: every /api/ path); `count` is how many
requests it applies to (default 1). DELETE /sim/faults clears them all.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from planrunner.sim.errors import ApiError


class FaultKind(StrEnum):
    ERROR = "error"
    DROP = "drop"
    DELAY = "delay"
    RATE_LIMIT = "rate_limit"
    BAN = "ban"
    SKEW = "skew"


BEFORE = frozenset({FaultKind.RATE_LIMIT, FaultKind.BAN})  # instead of executing
AFTER = frozenset({FaultKind.ERROR, FaultKind.DROP, FaultKind.DELAY})  # after executing


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    path: str | None = None
    count: int = 1
    status: int = 500
    ms: int = 0
    retry_after: int = 1

    def matches(self, path: str) -> bool:
        return self.count > 0 and (self.path is None or self.path == path)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "path": self.path, "count": self.count,
                "status": self.status, "ms": self.ms, "retry_after": self.retry_after}


def _int(data: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    raw = data.get(name, default)
    try:
        value = int(str(raw))
    except ValueError:
        raise ApiError(400, -1130, f"fault '{name}' must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ApiError(400, -1130, f"fault '{name}' must be between {low} and {high}, got {value}")
    return value


def parse_fault(data: Mapping[str, Any]) -> Fault:
    """A fault from JSON or form params; a bad one is a 400 naming the field to fix."""
    kinds = ", ".join(k.value for k in FaultKind)
    try:
        kind = FaultKind(str(data.get("kind", "")))
    except ValueError:
        raise ApiError(400, -1130, f"fault 'kind' must be one of {kinds}, "
                                   f"got {data.get('kind')!r}") from None
    path = data.get("path")
    if path is not None and not str(path).startswith("/"):
        raise ApiError(400, -1130, f"fault 'path' must start with '/', got {path!r}")
    default_after = 120 if kind is FaultKind.BAN else 1
    return Fault(kind=kind, path=None if path is None else str(path),
                 count=_int(data, "count", 1, 1, 1_000_000),
                 status=_int(data, "status", 500, 500, 599),
                 ms=_int(data, "ms", 0, -86_400_000, 86_400_000),
                 retry_after=_int(data, "retry_after", default_after, 0, 3 * 86_400))


class FaultBook:
    """The active faults. Thread safe; each matching request uses up one count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._skew_ms = 0

    @property
    def skew_ms(self) -> int:
        return self._skew_ms

    def add(self, fault: Fault) -> None:
        with self._lock:
            if fault.kind is FaultKind.SKEW:
                self._skew_ms = fault.ms
            else:
                self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._skew_ms = 0

    def take(self, path: str, kinds: frozenset[FaultKind]) -> Fault | None:
        """The first active fault of `kinds` for `path`, its count used up by one."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.kind in kinds and fault.matches(path):
                    left = replace(fault, count=fault.count - 1)
                    if left.count > 0:
                        self._faults[index] = left
                    else:
                        del self._faults[index]
                    return fault
            return None

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {"faults": [f.to_json() for f in self._faults], "skew_ms": self._skew_ms}
