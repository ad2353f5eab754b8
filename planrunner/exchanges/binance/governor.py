"""Client-side rate-limit governor: tracks the used weight and order counts Binance reports in
response headers against the exchangeInfo rateLimits, sleeps (on the injected clock) before a
request would cross a limit, and refuses all traffic while an IP ban (HTTP 418) lasts.

Binance counts in fixed windows (12:34:00-12:34:10 ...), so waiting means sleeping to the next
window boundary; a count observed in an earlier window no longer applies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from planrunner.clock import Clock
from planrunner.errors import RateLimited

_INTERVAL_MS = {"SECOND": 1_000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}
_INTERVAL_LETTER = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}


class LimitKind(StrEnum):
    REQUEST_WEIGHT = "REQUEST_WEIGHT"
    ORDERS = "ORDERS"
    RAW_REQUESTS = "RAW_REQUESTS"


@dataclass(frozen=True, slots=True)
class RateLimit:
    kind: str
    interval: str  # SECOND / MINUTE / HOUR / DAY
    interval_num: int
    limit: int

    @property
    def window_ms(self) -> int:
        return _INTERVAL_MS.get(self.interval, 60_000) * self.interval_num

    @property
    def header(self) -> str | None:
        """The response header that reports this limit's usage, if Binance sends one."""
        suffix = f"{self.interval_num}{_INTERVAL_LETTER.get(self.interval, '?')}"
        if self.kind == LimitKind.REQUEST_WEIGHT:
            return f"X-MBX-USED-WEIGHT-{suffix}"
        if self.kind == LimitKind.ORDERS:
            return f"X-MBX-ORDER-COUNT-{suffix}"
        return None


# Current production values (reference §8.1); replaced by exchangeInfo.rateLimits once seen.
DEFAULT_LIMITS = (
    RateLimit(LimitKind.REQUEST_WEIGHT, "MINUTE", 1, 6000),
    RateLimit(LimitKind.ORDERS, "SECOND", 10, 100),
    RateLimit(LimitKind.ORDERS, "DAY", 1, 200_000),
)


@dataclass(frozen=True, slots=True)
class _Usage:
    count: int
    window_start_ms: int


class Governor:
    """Decides how long to wait before a request. `now` defaults to the clock; the client passes
    its server-time estimate so windows line up with Binance's."""

    def __init__(self, clock: Clock, limits: Sequence[RateLimit] = DEFAULT_LIMITS, *,
                 now: Callable[[], int] | None = None):
        self._clock = clock
        self._now = now or clock.now_ms
        self._limits: tuple[RateLimit, ...] = tuple(limits)
        # keyed by header so usage survives a reconfiguration from exchangeInfo
        self._usage: dict[str, _Usage] = {}
        self._cooldown_until_ms = 0
        self._banned_until_ms = 0

    @property
    def limits(self) -> tuple[RateLimit, ...]:
        return self._limits

    def configure(self, limits: Sequence[RateLimit]) -> None:
        known = tuple(lim for lim in limits if lim.header is not None)
        if known:
            self._limits = known

    def before(self, weight: int, orders: int = 0) -> None:
        """Block (sleep) until the request fits every limit; raise while banned."""
        self._refuse_if_banned()
        self._sleep_until(self._cooldown_until_ms)
        for limit in self._limits:
            cost = weight if limit.kind == LimitKind.REQUEST_WEIGHT else orders
            if cost and self._used(limit) + cost > limit.limit:
                self._sleep_until(self._window_start(limit) + limit.window_ms)

    def observe(self, headers: Mapping[str, str]) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}
        for limit in self._limits:
            raw = lowered.get((limit.header or "").lower())
            if limit.header and raw is not None and raw.strip().isdigit():
                self._usage[limit.header] = _Usage(int(raw), self._window_start(limit))

    def used(self, kind: str, interval: str, interval_num: int) -> int | None:
        for limit in self._limits:
            if (limit.kind, limit.interval, limit.interval_num) == (kind, interval, interval_num):
                return self._used(limit)
        return None

    def cooldown(self, seconds: float) -> None:
        """A 429 said "wait": nothing goes out before `seconds` have passed."""
        self._cooldown_until_ms = max(self._cooldown_until_ms, self._now() + int(seconds * 1000))

    def ban(self, seconds: float) -> None:
        self._banned_until_ms = max(self._banned_until_ms, self._now() + int(seconds * 1000))

    @property
    def banned_for_seconds(self) -> float:
        return max(0, self._banned_until_ms - self._now()) / 1000

    def _refuse_if_banned(self) -> None:
        remaining = self.banned_for_seconds
        if remaining > 0:
            raise RateLimited(f"Binance has banned this IP for another {remaining:.0f} s (HTTP 418 "
                              "after too many requests); planrunner sends nothing until the ban "
                              "ends. Wait, then run the command again.",
                              retry_after=remaining, banned=True, http_status=418)

    def _used(self, limit: RateLimit) -> int:
        usage = self._usage.get(limit.header or "")
        if usage is None or usage.window_start_ms != self._window_start(limit):
            return 0
        return usage.count

    def _window_start(self, limit: RateLimit) -> int:
        now = self._now()
        return now - now % limit.window_ms

    def _sleep_until(self, target_ms: int) -> None:
        wait_ms = target_ms - self._now()
        if wait_ms > 0:
            self._clock.sleep(wait_ms / 1000)
