"""Binance's rate limits as the simulator enforces them: request weight per IP per minute and
the account's unfilled-order counts per 10 s and per day, in fixed windows (§8), with the
X-MBX-USED-WEIGHT-1M / X-MBX-ORDER-COUNT-* headers. A client that keeps sending after a 429 in
the same window is banned: 418 with Retry-After, 2 minutes, doubling on each new ban.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from planrunner.clock import Clock
from planrunner.sim.errors import ApiError

MINUTE_MS = 60_000
SECOND_MS = 1_000
DAY_MS = 86_400_000
FIRST_BAN_S = 120


@dataclass(frozen=True, slots=True)
class Limits:
    weight_per_minute: int = 6000
    orders_per_10s: int = 100
    orders_per_day: int = 200_000


def _retry_after(now_ms: int, window_ms: int) -> int:
    return max(1, -(-(window_ms - now_ms % window_ms) // 1000))


class RateLimiter:
    """Counters for one simulator (all clients share the one account). Thread safe."""

    def __init__(self, clock: Clock, limits: Limits | None = None):
        self._clock, self._limits = clock, limits or Limits()
        self._lock = threading.Lock()
        self._weight: dict[str, tuple[int, int]] = {}  # ip -> (window start, used)
        self._warned: dict[str, int] = {}  # ip -> window start of its last 429
        self._banned: dict[str, tuple[int, int]] = {}  # ip -> (banned until ms, ban seconds)
        self._orders: dict[int, tuple[int, int]] = {}  # window ms -> (window start, count)

    def admit(self, ip: str, weight: int) -> int:
        """Charge `weight` for a request from `ip`; return the minute's used weight.
        Raises ApiError 429 (-1003) over the limit, 418 when banned or ignoring a 429."""
        with self._lock:
            now = self._clock.now_ms()
            self._check_ban(ip, now)
            start, used = self._window(ip, now)
            if used + weight > self._limits.weight_per_minute:
                if self._warned.get(ip) == start:
                    raise self._ban(ip, now)
                self._warned[ip] = start
                self._weight[ip] = (start, used + weight)
                raise ApiError(429, -1003, "Too much request weight used; current limit is "
                               f"{self._limits.weight_per_minute} request weight per 1 MINUTE. "
                               "Please use WebSocket Streams for live updates to avoid polling "
                               "the API.", {"Retry-After": str(_retry_after(now, MINUTE_MS))})
            self._weight[ip] = (start, used + weight)
            return used + weight

    def refund(self, ip: str, weight: int) -> int:
        """Successful order placements and cancels cost 0 weight (since 2026-04-02)."""
        with self._lock:
            start, used = self._window(ip, self._clock.now_ms())
            self._weight[ip] = (start, max(0, used - weight))
            return self._weight[ip][1]

    def used_weight(self, ip: str) -> int:
        with self._lock:
            return self._window(ip, self._clock.now_ms())[1]

    def ban(self, ip: str, seconds: int) -> ApiError:
        """A 418 the control API asked for; later requests are refused until it ends."""
        with self._lock:
            now = self._clock.now_ms()
            self._banned[ip] = (now + seconds * 1000, seconds)
            return self._ban_error(now + seconds * 1000, seconds)

    def clear_bans(self) -> None:
        with self._lock:
            self._banned.clear()
            self._warned.clear()

    def _window(self, ip: str, now: int) -> tuple[int, int]:
        start = now - now % MINUTE_MS
        current = self._weight.get(ip)
        return (start, current[1]) if current and current[0] == start else (start, 0)

    def _check_ban(self, ip: str, now: int) -> None:
        until = self._banned.get(ip, (0, 0))[0]
        if now < until:
            raise self._ban_error(until, max(1, -(-(until - now) // 1000)))

    def _ban(self, ip: str, now: int) -> ApiError:
        previous = self._banned.get(ip, (0, FIRST_BAN_S // 2))[1]
        seconds = min(previous * 2, 3 * 86_400)
        self._banned[ip] = (now + seconds * 1000, seconds)
        return self._ban_error(now + seconds * 1000, seconds)

    @staticmethod
    def _ban_error(until: int, seconds: int) -> ApiError:
        return ApiError(418, -1003, f"Way too much request weight used; IP banned until {until}. "
                        "Please use WebSocket Streams for live updates to avoid bans.",
                        {"Retry-After": str(seconds)})

    # --- unfilled order counts ------------------------------------------------------------

    def _order_window(self, size: int, now: int) -> tuple[int, int]:
        start = now - now % size
        current = self._orders.get(size)
        return (start, current[1]) if current and current[0] == start else (start, 0)

    def check_orders(self, count: int) -> None:
        """Refuse (429, -1015) a placement of `count` orders that would pass a limit."""
        with self._lock:
            now = self._clock.now_ms()
            for size, limit, name in ((SECOND_MS * 10, self._limits.orders_per_10s, "10 SECOND"),
                                      (DAY_MS, self._limits.orders_per_day, "1 DAY")):
                if self._order_window(size, now)[1] + count > limit:
                    raise ApiError(429, -1015, f"Too many new orders; current limit is {limit} "
                                   f"orders per {name}.",
                                   {"Retry-After": str(_retry_after(now, size))})

    def add_orders(self, count: int) -> dict[str, str]:
        """Count a successful placement; return the X-MBX-ORDER-COUNT-* headers."""
        with self._lock:
            now = self._clock.now_ms()
            headers = {}
            for size, name in ((SECOND_MS * 10, "10S"), (DAY_MS, "1D")):
                start, used = self._order_window(size, now)
                self._orders[size] = (start, used + count)
                headers[f"X-MBX-ORDER-COUNT-{name}"] = str(used + count)
            return headers
