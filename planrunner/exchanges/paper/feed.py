"""Price feeds for the paper exchange: where the paper market's trades come from, and when.

Sources are 1-minute candles, either replayed from Binance kline CSV files (data.binance.vision
format) or drawn from a seeded synthetic walk. Each candle becomes exactly four trades (ticks):

    open                      at open_time
    the nearer extreme        at open_time + interval/3   (high or low, whichever is closer to the
                                                           open; a tie goes to the low first, the
                                                           pessimistic order for a long position)
    the farther extreme       at open_time + 2*interval/3
    close                     at open_time + interval - 1  (the candle's own close time)

A stop and a take-profit touched by the same candle therefore resolve in a stated, repeatable
order. A replay source that runs out of candles continues with the synthetic walk from its last
close, so a paper market never stops trading.

The synthetic walk is geometric: six sub-steps per candle, each a relative move of a whole number
of basis points in [-6, +6] (-0.06% .. +0.06%) drawn with `random.Random.randint` (never a float),
the price rounded to the symbol's tick after each step; high and low are the path's extremes. Candle k of a symbol is drawn from its own
generator seeded with "seed:symbol:k", so a feed resumes from (k, previous close) alone and the
same seed always yields the same path.

Everything here is pure except reading CSV files. (Market time vs wall time: exchange.MarketClock.)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from heapq import merge
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from planrunner.errors import PlanrunnerError

MINUTE_MS = 60_000
# 2020-01-01T00:00:00Z: the first minute of the bundled BTCUSDT sample; every feed starts here.
FEED_START_MS = 1_577_836_800_000
MICROSECOND_THRESHOLD = 10**15  # open times at or above this are microseconds (spot files from 2025)
SAMPLE_PREFIX = "sample:"
_STEPS_PER_CANDLE = 6
_MAX_STEP_BPS = 6  # hundredths of a percent per sub-step
_BPS = Decimal(10_000)


class FeedError(PlanrunnerError):
    """A price file or feed description cannot be used. The message names the file and line."""


@dataclass(frozen=True, slots=True)
class Candle:
    open_time_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    interval_ms: int = MINUTE_MS


@dataclass(frozen=True, slots=True)
class Tick:
    """One paper trade: `symbol` traded at `price` at market time `time_ms`."""

    time_ms: int
    price: Decimal
    symbol: str = ""


def candle_ticks(candle: Candle) -> tuple[Tick, Tick, Tick, Tick]:
    """The four trades of a candle in the documented order (see the module docstring)."""
    up, down = candle.high - candle.open, candle.open - candle.low
    first, second = (candle.high, candle.low) if up < down else (candle.low, candle.high)
    start, span = candle.open_time_ms, candle.interval_ms
    return (Tick(start, candle.open), Tick(start + span // 3, first),
            Tick(start + 2 * span // 3, second), Tick(start + span - 1, candle.close))


# --- kline CSV ------------------------------------------------------------------------------

def _to_ms(raw: int) -> int:
    return raw // 1000 if raw >= MICROSECOND_THRESHOLD else raw


def _price(text: str, name: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"{name} {text.strip()!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{name} {text.strip()!r} must be a positive number")
    return value


def _time(text: str, name: str) -> int:
    try:
        return _to_ms(int(text.strip()))
    except ValueError:
        raise ValueError(f"{name} {text.strip()!r} is not a whole number of ms or µs") from None


def parse_kline_row(fields: Sequence[str]) -> Candle:
    """One data.binance.vision kline row (12 columns) -> Candle. Raises ValueError saying why."""
    if len(fields) != 12:
        raise ValueError(f"expected 12 comma-separated columns, found {len(fields)}")
    open_ms, close_ms = _time(fields[0], "open time"), _time(fields[6], "close time")
    o, h, lo, c = (_price(fields[i], n) for i, n in ((1, "open"), (2, "high"), (3, "low"), (4, "close")))
    if not lo <= min(o, c) or not max(o, c) <= h:
        raise ValueError(f"prices are inconsistent: low {lo} / open {o} / close {c} / high {h}")
    if close_ms <= open_ms:
        raise ValueError("close time is not after the open time")
    return Candle(open_ms, o, h, lo, c, close_ms - open_ms + 1)


def _is_header(fields: Sequence[str]) -> bool:
    return not fields[0].strip().lstrip("-").isdigit()


def parse_kline_csv(text: str, source: str) -> tuple[Candle, ...]:
    """Parse a whole kline file. A header row is tolerated; blank lines are skipped.

    Any bad row raises FeedError("<source>:<line>: ..."), as do out-of-order open times.
    """
    candles: list[Candle] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if not candles and number == 1 and _is_header(fields):
            continue
        try:
            candle = parse_kline_row(fields)
        except ValueError as exc:
            raise FeedError(f"{source}:{number}: {exc}; expected a Binance kline row "
                            "(open time, open, high, low, close, volume, close time, ...)") from None
        if candles and candle.open_time_ms <= candles[-1].open_time_ms:
            raise FeedError(f"{source}:{number}: open time {candle.open_time_ms} is not after the "
                            f"previous row's {candles[-1].open_time_ms}; sort the file by time")
        candles.append(candle)
    if not candles:
        raise FeedError(f"{source}: no kline rows found")
    return tuple(candles)


def _read_source_text(name: str) -> str:
    if name.startswith(SAMPLE_PREFIX):
        sample = resources.files("planrunner.data").joinpath("sample", name[len(SAMPLE_PREFIX):])
        return sample.read_text("utf-8")
    try:
        return Path(name).read_text("utf-8")
    except OSError as exc:
        raise FeedError(f"cannot read price file {name}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise FeedError(f"price file {name} is not a text CSV file") from None


def load_klines(names: Sequence[str]) -> tuple[Candle, ...]:
    """Read and concatenate kline files ("sample:<file>" for bundled ones), in the given order."""
    candles: list[Candle] = []
    for name in names:
        part = parse_kline_csv(_read_source_text(name), name)
        if candles and part[0].open_time_ms <= candles[-1].open_time_ms:
            raise FeedError(f"{name}: starts before the previous file ends; list files in time order")
        candles.extend(part)
    return tuple(candles)


def bundled_samples(symbol: str) -> tuple[str, ...]:
    """Names ("sample:<file>") of the bundled kline files for a symbol, oldest first."""
    folder = resources.files("planrunner.data").joinpath("sample")
    if not folder.is_dir():
        return ()
    names = sorted(p.name for p in folder.iterdir() if p.name.startswith(f"{symbol}-1m-")
                   and p.name.endswith(".csv"))
    return tuple(SAMPLE_PREFIX + n for n in names)


# --- synthetic walk -------------------------------------------------------------------------

def _on_tick_grid(candle: Candle, tick: Decimal) -> Candle:
    """Drop the files' trailing zeros (7195.24000000 -> 7195.24) where prices sit on the grid."""
    prices = (candle.open, candle.high, candle.low, candle.close)
    if tick <= 0 or any(p % tick for p in prices):
        return candle
    o, h, lo, c = (p.quantize(tick) for p in prices)
    return Candle(candle.open_time_ms, o, h, lo, c, candle.interval_ms)


def round_to_tick(value: Decimal, tick: Decimal) -> Decimal:
    """Nearest multiple of `tick` (ties to even), never below one tick."""
    if tick <= 0:
        return value
    steps = (value / tick).to_integral_value(rounding=ROUND_HALF_EVEN)
    return max(steps, Decimal(1)) * tick


def synthetic_candle(symbol: str, seed: int, index: int, open_time_ms: int,
                     previous_close: Decimal, tick: Decimal) -> Candle:
    """Candle number `index` of the seeded walk, opening at the previous close."""
    rng = random.Random(f"{seed}:{symbol}:{index}")
    path = [previous_close]
    for _ in range(_STEPS_PER_CANDLE):
        move = Decimal(rng.randint(-_MAX_STEP_BPS, _MAX_STEP_BPS)) / _BPS
        path.append(round_to_tick(path[-1] * (1 + move), tick))
    return Candle(open_time_ms, previous_close, max(path), min(path), path[-1])


# --- sources --------------------------------------------------------------------------------

class CandleSource(Protocol):
    """Candles of one symbol by index; `previous_close` seeds synthetic candles."""

    symbol: str
    opening_price: Decimal

    def candle(self, index: int, previous_close: Decimal) -> Candle: ...

    def spec(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class SyntheticSource:
    symbol: str
    start_price: Decimal
    tick_size: Decimal
    seed: int = 0
    start_ms: int = FEED_START_MS

    @property
    def opening_price(self) -> Decimal:
        return self.start_price

    def candle(self, index: int, previous_close: Decimal) -> Candle:
        return synthetic_candle(self.symbol, self.seed, index, self.start_ms + index * MINUTE_MS,
                                previous_close, self.tick_size)

    def spec(self) -> dict[str, Any]:
        return {"kind": "synthetic", "start_price": str(self.start_price),
                "tick_size": str(self.tick_size), "seed": self.seed, "start_ms": self.start_ms}


@dataclass(frozen=True, slots=True)
class ReplaySource:
    """Replays candles, then continues with the synthetic walk after the last one."""

    symbol: str
    files: tuple[str, ...]
    tick_size: Decimal
    seed: int = 0
    candles: tuple[Candle, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def from_files(cls, symbol: str, files: Sequence[str], tick_size: Decimal,
                   seed: int = 0) -> ReplaySource:
        names = tuple(f if f.startswith(SAMPLE_PREFIX) else str(Path(f).resolve()) for f in files)
        candles = tuple(_on_tick_grid(c, tick_size) for c in load_klines(names))
        return cls(symbol, names, tick_size, seed, candles)

    @property
    def opening_price(self) -> Decimal:
        return self.candles[0].open

    def candle(self, index: int, previous_close: Decimal) -> Candle:
        if index < len(self.candles):
            return self.candles[index]
        last = self.candles[-1]
        beyond = index - len(self.candles)
        return synthetic_candle(self.symbol, self.seed, index, last.open_time_ms + last.interval_ms
                                + beyond * MINUTE_MS, previous_close, self.tick_size)

    def spec(self) -> dict[str, Any]:
        return {"kind": "replay", "files": list(self.files), "tick_size": str(self.tick_size),
                "seed": self.seed}


def source_from_spec(symbol: str, spec: Mapping[str, Any]) -> CandleSource:
    """Rebuild a source from its spec() (as stored in the paper account). Raises FeedError."""
    try:
        kind = spec["kind"]
        if kind == "synthetic":
            return SyntheticSource(symbol, Decimal(spec["start_price"]), Decimal(spec["tick_size"]),
                                   int(spec["seed"]), int(spec["start_ms"]))
        if kind == "replay":
            return ReplaySource.from_files(symbol, [str(f) for f in spec["files"]],
                                           Decimal(spec["tick_size"]), int(spec["seed"]))
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise FeedError(f"feed description for {symbol} is malformed ({exc!r})") from None
    raise FeedError(f"feed description for {symbol} has unknown kind {kind!r}")


# --- the feed: cursors over several sources -------------------------------------------------

@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a symbol's feed stands: the candle in progress and the close before it."""

    index: int
    previous_close: Decimal


@dataclass(frozen=True, slots=True)
class FeedState:
    """Market time (every tick at or before it has been delivered) and one cursor per symbol."""

    market_time_ms: int
    cursors: tuple[tuple[str, Cursor], ...]

    def cursor(self, symbol: str) -> Cursor:
        return dict(self.cursors)[symbol]

    def to_dict(self) -> dict[str, Any]:
        return {"market_time_ms": self.market_time_ms,
                "cursors": {s: {"index": c.index, "previous_close": str(c.previous_close)}
                            for s, c in self.cursors}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeedState:
        """Raises ValueError on malformed data."""
        try:
            cursors = tuple((str(s), Cursor(int(c["index"]), Decimal(str(c["previous_close"]))))
                            for s, c in sorted(data["cursors"].items()))
            return cls(int(data["market_time_ms"]), cursors)
        except (KeyError, TypeError, AttributeError, InvalidOperation) as exc:
            raise ValueError(f"malformed feed position ({exc!r})") from None


def _symbol_ticks(source: CandleSource, cursor: Cursor, after_ms: int,
                  until_ms: int) -> tuple[list[Tick], Cursor]:
    """Ticks of one symbol with after_ms < time <= until_ms, and the cursor past them."""
    ticks: list[Tick] = []
    while True:
        candle = source.candle(cursor.index, cursor.previous_close)
        if candle.open_time_ms > until_ms:
            return ticks, cursor
        ticks.extend(Tick(t.time_ms, t.price, source.symbol) for t in candle_ticks(candle)
                     if after_ms < t.time_ms <= until_ms)
        if candle.open_time_ms + candle.interval_ms - 1 > until_ms:
            return ticks, cursor
        cursor = Cursor(cursor.index + 1, candle.close)


class PriceFeed:
    """Several symbol sources on one market clock. Pure: state goes in, ticks and state come out."""

    def __init__(self, sources: Mapping[str, CandleSource], start_ms: int = FEED_START_MS):
        if not sources:
            raise FeedError("a price feed needs at least one symbol")
        self._sources = dict(sorted(sources.items()))
        self.start_ms = start_ms

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._sources)

    def opening_price(self, symbol: str) -> Decimal:
        return self._sources[symbol].opening_price

    def spec(self) -> dict[str, Any]:
        return {"start_ms": self.start_ms,
                "symbols": {s: src.spec() for s, src in self._sources.items()}}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> PriceFeed:
        try:
            symbols, start = spec["symbols"], int(spec["start_ms"])
            return cls({s: source_from_spec(s, v) for s, v in symbols.items()}, start)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FeedError(f"malformed price feed description ({exc!r})") from None

    def initial_state(self) -> FeedState:
        """Before the first tick: advancing to start_ms delivers every symbol's opening trade."""
        return FeedState(self.start_ms - 1, tuple(
            (s, Cursor(0, src.opening_price)) for s, src in self._sources.items()))

    def check_state(self, state: FeedState) -> None:
        """Raises ValueError unless `state` has a cursor for exactly this feed's symbols."""
        have = {s for s, _ in state.cursors}
        if have != set(self._sources):
            raise ValueError(f"feed position covers {sorted(have)}, the feed has {list(self._sources)}")

    def advance(self, state: FeedState, until_ms: int) -> tuple[list[Tick], FeedState]:
        """Every tick with state.market_time_ms < time <= until_ms, in time order (then symbol)."""
        if until_ms <= state.market_time_ms:
            return [], state
        per_symbol, cursors = [], []
        for symbol, cursor in state.cursors:
            ticks, moved = _symbol_ticks(self._sources[symbol], cursor, state.market_time_ms, until_ms)
            per_symbol.append(ticks)
            cursors.append((symbol, moved))
        merged = list(merge(*per_symbol, key=lambda t: (t.time_ms, t.symbol)))
        return merged, FeedState(until_ms, tuple(cursors))

    def next_tick_ms(self, state: FeedState) -> int:
        """Market time of the earliest tick not yet delivered (for stepping one trade at a time)."""
        return min(_next_time(self._sources[s], c, state.market_time_ms) for s, c in state.cursors)


def _next_time(source: CandleSource, cursor: Cursor, after_ms: int) -> int:
    while True:
        candle = source.candle(cursor.index, cursor.previous_close)
        for tick in candle_ticks(candle):
            if tick.time_ms > after_ms:
                return tick.time_ms
        cursor = Cursor(cursor.index + 1, candle.close)


def default_feed(tick_sizes: Mapping[str, Decimal], opening_prices: Mapping[str, Decimal], *,
                 seed: int = 0, kline_files: Mapping[str, Sequence[str]] | None = None) -> PriceFeed:
    """Replay where there are kline files, the seeded walk for every other symbol.

    Without `kline_files` the bundled samples are replayed and the market opens at FEED_START_MS.
    With them, only those files are replayed and the market opens at their earliest candle, so a
    replayed day is traded at its own dates (walking symbols start there too).
    """
    unknown = sorted(set(kline_files or {}) - set(tick_sizes))
    if unknown:
        raise FeedError(f"price files given for unknown symbols: {', '.join(unknown)}; "
                        f"the paper exchange knows {', '.join(sorted(tick_sizes))}")
    files = ({s: tuple(f) for s, f in kline_files.items() if f} if kline_files
             else {s: bundled_samples(s) for s in tick_sizes})
    replays = {s: ReplaySource.from_files(s, f, tick_sizes[s], seed) for s, f in files.items() if f}
    start = (min((r.candles[0].open_time_ms for r in replays.values()), default=FEED_START_MS)
             if kline_files else FEED_START_MS)
    walks = {s: SyntheticSource(s, opening_prices[s], tick, seed, start)
             for s, tick in tick_sizes.items() if s not in replays and s in opening_prices}
    return PriceFeed({**walks, **replays}, start)
